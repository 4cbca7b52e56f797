"""A brand node witnesses the coordinator's audit log. The log is hash-chained and its
checkpoints signed, but the coordinator holds both: cutting the tail of the log together with
its checkpoint, or re-signing a rewritten log, is invisible from inside. Each brand keeps every
signed tree head it has seen, outside the coordinator, and accepts a new head only when

- it is signed by the coordinator's audit key, pinned in the brand's config or on first use;
- it is not smaller than a head seen before (truncation);
- an RFC 6962 consistency proof (§2.1.2, checked as in RFC 9162 §2.1.4.2) shows the newest head
  seen is a prefix of it, and no head of the same size had another root (a fork).

A failed check is an alarm: logged as an error, stored in the brand's own witness store with
the head that failed, and raised as `WitnessAlarm`. The head is then not accepted, so every
later run raises it again until someone looks. Accepted heads are reported to the
coordinator, whose DPO report counts the brands that witnessed a period's last checkpoint.

The store is a SQLite file in the node's state directory (mode 0600): hashes and signatures
only, no personal data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compliance.audit.merkle import verify_consistency
from compliance.audit.signing import TreeHead
from compliance.errors import ComityError, NotFoundError
from federation.brand.api_client import CoordinatorClient
from federation.brand.state_db import StateDb

log = logging.getLogger(__name__)

STORE_FILE = "witness.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS coordinator_key (
    id INTEGER PRIMARY KEY CHECK (id = 1), public_key TEXT NOT NULL, source TEXT NOT NULL,
    pinned_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (
    tree_size INTEGER PRIMARY KEY, tree_root TEXT NOT NULL, head TEXT NOT NULL,
    seen_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, detail TEXT NOT NULL,
    seen_tree_size INTEGER, head TEXT NOT NULL, raised_at TEXT NOT NULL);
"""
ALARM_KINDS = ("malformed", "key_changed", "bad_signature", "truncated", "fork",
               "missing_checkpoint")


class WitnessAlarm(ComityError):
    """The coordinator's audit log is not an extension of what this brand saw before."""

    status_code = 409

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"AUDIT LOG ALARM ({kind}): {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Alarm:
    kind: str
    detail: str
    seen_tree_size: int | None
    head: dict[str, Any]
    raised_at: str


@dataclass(frozen=True)
class WitnessReport:
    # witnessed (a new head), unchanged (the same head again), no_checkpoint, or skipped
    # (the coordinator could not answer; `problem` says why)
    status: str
    tree_size: int | None = None
    tree_root: str | None = None
    previous_size: int | None = None
    problem: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class WitnessStore:
    def __init__(self, directory: Path) -> None:
        self._db = StateDb(directory, STORE_FILE, SCHEMA)
        self.path = self._db.path
        self._connect = self._db.connect

    def pinned_key(self) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT public_key FROM coordinator_key").fetchone()
        return None if row is None else str(row[0])

    def pin(self, public_key: str, source: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO coordinator_key VALUES (1, ?, ?, ?)",
                       (public_key, source, _now()))

    def latest(self) -> TreeHead | None:
        with self._connect() as db:
            row = db.execute("SELECT head FROM heads ORDER BY tree_size DESC LIMIT 1"
                             ).fetchone()
        return None if row is None else TreeHead.from_json(json.loads(row[0]))

    def at(self, tree_size: int) -> TreeHead | None:
        with self._connect() as db:
            row = db.execute("SELECT head FROM heads WHERE tree_size = ?", (tree_size,)
                             ).fetchone()
        return None if row is None else TreeHead.from_json(json.loads(row[0]))

    def heads(self) -> list[TreeHead]:
        with self._connect() as db:
            rows = db.execute("SELECT head FROM heads ORDER BY tree_size").fetchall()
        return [TreeHead.from_json(json.loads(r[0])) for r in rows]

    def accept(self, head: TreeHead) -> bool:
        """Keep a verified head; False if it was kept before."""
        with self._connect() as db:
            before = db.total_changes
            db.execute("INSERT OR IGNORE INTO heads VALUES (?, ?, ?, ?)",
                       (head.tree_size, head.tree_root, json.dumps(head.as_json()), _now()))
            return db.total_changes > before

    def raise_alarm(self, kind: str, detail: str, seen: TreeHead | None,
                    head: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO alarms (kind, detail, seen_tree_size, head, raised_at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (kind, detail, None if seen is None else seen.tree_size,
                        json.dumps(head, sort_keys=True), _now()))

    def alarms(self) -> list[Alarm]:
        with self._connect() as db:
            rows = db.execute("SELECT kind, detail, seen_tree_size, head, raised_at FROM alarms "
                              "ORDER BY id").fetchall()
        return [Alarm(k, d, s, json.loads(h), at) for k, d, s, h, at in rows]


def witness_log(client: CoordinatorClient, store: WitnessStore,
                configured_key: str | None = None) -> WitnessReport:
    """Fetch the coordinator's newest signed tree head, check it against every head this
    brand saw (see the module docstring), keep it, and report it witnessed. Raises
    `WitnessAlarm` (stored first) when the log was truncated or forked."""
    seen = store.latest()

    def alarm(kind: str, detail: str, raw: dict[str, Any]) -> WitnessAlarm:
        store.raise_alarm(kind, detail, seen, raw)
        log.error("AUDIT LOG ALARM (%s): %s", kind, detail)
        return WitnessAlarm(kind, detail)

    try:
        raw = client.tree_head()
    except NotFoundError:
        if seen is not None:
            raise alarm("missing_checkpoint", f"the coordinator serves no signed tree head, "
                        f"but this brand saw one of size {seen.tree_size}", {}) from None
        return WitnessReport("no_checkpoint")
    try:
        head = TreeHead.from_json(raw)
    except ValueError as exc:
        raise alarm("malformed", str(exc), raw) from None
    key = configured_key or store.pinned_key()
    if key is None:
        store.pin(head.public_key, "first use")
        key = head.public_key
    elif configured_key and store.pinned_key() != configured_key:
        store.pin(configured_key, "config")
    if head.public_key != key:
        raise alarm("key_changed", "the signed tree head names another key than the "
                    f"coordinator's pinned audit key {key[:16]}…", raw)
    if not head.signed_by(key):
        raise alarm("bad_signature", f"tree head {head.tree_size} is not signed by the "
                    "coordinator's audit key", raw)
    same = store.at(head.tree_size)
    if same is not None and same.tree_root != head.tree_root:
        raise alarm("fork", f"tree head {head.tree_size} has another root than the one this "
                    "brand saw at that size", raw)
    if seen is not None and head.tree_size < seen.tree_size:
        raise alarm("truncated", f"the newest tree head has {head.tree_size} events, this "
                    f"brand saw {seen.tree_size}", raw)
    if seen is not None and head.tree_size > seen.tree_size:
        _check_extends(client, seen, head, lambda k, d: alarm(k, d, raw))
    new = store.accept(head)
    client.witness(head.tree_size, head.tree_root)
    return WitnessReport("witnessed" if new else "unchanged", head.tree_size, head.tree_root,
                         None if seen is None else seen.tree_size)


def _check_extends(client: CoordinatorClient, seen: TreeHead, head: TreeHead,
                   alarm: Callable[[str, str], WitnessAlarm]) -> None:
    """The newest head seen is a prefix of `head`: proved against the root this brand kept,
    never against the old root the coordinator sends back."""
    try:
        out = client.consistency(seen.tree_size, head.tree_size)
    except NotFoundError:
        raise alarm("missing_checkpoint", f"the coordinator no longer has the signed tree "
                    f"head of size {seen.tree_size} this brand saw") from None
    try:
        then, now = TreeHead.from_json(out["from"]), TreeHead.from_json(out["to"])
        proof = list(out["proof"])
    except (KeyError, TypeError, ValueError) as exc:
        raise alarm("malformed", f"consistency answer: {exc}") from None
    if then.tree_root != seen.tree_root:
        raise alarm("fork", f"the coordinator now signs another root at tree size "
                    f"{seen.tree_size} than the one this brand saw")
    if now.tree_root != head.tree_root:
        raise alarm("fork", f"the coordinator answers with two roots at tree size "
                    f"{head.tree_size}")
    if not verify_consistency(seen.tree_size, head.tree_size, bytes.fromhex(seen.tree_root),
                              bytes.fromhex(head.tree_root), proof):
        raise alarm("fork", f"tree head {head.tree_size} does not extend the head of size "
                    f"{seen.tree_size} this brand saw (consistency proof fails)")
