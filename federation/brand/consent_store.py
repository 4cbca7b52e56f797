"""The brand node's own copy of its consent records, as synced from the coordinator's API
(`federation.brand.sync`): its subjects' pseudonyms with their minor/guardian flags, and
every consent event with the id the coordinator gave it. The node derives its consent
snapshot from this copy with the same pure rules as the coordinator
(`compliance.consent.state`), so the two digests agree exactly when the records do.

A SQLite file in the node's state directory (mode 0600); no personal data but pseudonyms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from compliance.consent.state import ConsentAction, ConsentFact, SubjectConsent, derive_state
from federation.brand.state_db import StateDb

STORE_FILE = "consent.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS subjects (
    subject TEXT PRIMARY KEY, is_minor INTEGER NOT NULL, guardian_consent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, subject TEXT NOT NULL, purpose TEXT NOT NULL,
    action TEXT NOT NULL, separate INTEGER NOT NULL, occurred_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_purpose ON events (purpose, occurred_at);
"""

Subject = tuple[str, bool, bool]  # pseudonym, is minor, guardian consent
Event = tuple[int, str, str, str, bool, datetime]  # id, pseudonym, purpose, action, separate, at


class ConsentStore:
    def __init__(self, directory: Path) -> None:
        self._db = StateDb(directory, STORE_FILE, SCHEMA)
        self.path = self._db.path
        self._connect = self._db.connect

    def replace_subjects(self, subjects: Iterable[Subject]) -> int:
        """The brand's subjects as the coordinator holds them now (flags can change)."""
        rows = [(s, int(m), int(g)) for s, m, g in subjects]
        with self._connect() as db:
            db.execute("DELETE FROM subjects")
            db.executemany("INSERT INTO subjects VALUES (?, ?, ?)", rows)
        return len(rows)

    def add_events(self, events: Iterable[Event]) -> int:
        """Events are append-only at the coordinator: an id seen before is skipped. Streamed
        into one executemany, so a sync of millions of events holds one page at a time."""
        rows = ((i, s, p, a, int(sep), at.astimezone(UTC).isoformat())
                for i, s, p, a, sep, at in events)
        with self._connect() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            return db.total_changes - before

    def last_event_id(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        with self._connect() as db:
            subjects = db.execute("SELECT COUNT(*) FROM subjects").fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return int(subjects), int(events)

    def snapshot(self, purpose: str, as_of: datetime) -> dict[str, SubjectConsent]:
        """Consent state of every subject for `purpose` at `as_of`: what
        `ConsentService.snapshot` computes from the coordinator's records."""
        facts: dict[str, list[ConsentFact]] = defaultdict(list)
        with self._connect() as db:
            subjects = db.execute("SELECT subject, is_minor, guardian_consent FROM subjects"
                                  ).fetchall()
            for eid, subject, action, separate, at in db.execute(
                    "SELECT id, subject, action, separate, occurred_at FROM events "
                    "WHERE purpose = ?", (purpose,)):
                when = datetime.fromisoformat(at)
                if when <= as_of:
                    facts[subject].append(ConsentFact(when, int(eid), ConsentAction(action),
                                                      bool(separate)))
        return {key: SubjectConsent(derive_state(facts.get(key, ())), bool(minor),
                                    bool(guardian))
                for key, minor, guardian in subjects}
