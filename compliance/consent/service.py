"""Consent snapshots and summaries, built on the pure state derivation."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from compliance.consent.repository import ConsentRepository
from compliance.consent.state import ConsentAction, ConsentFact, SubjectConsent, derive_state
from compliance.policy.schemas import ConsentState


class ConsentService:
    def __init__(self, session: Session) -> None:
        self.repo = ConsentRepository(session)

    def snapshot(self, brand_id: str, purpose: str, as_of: datetime) -> dict[str, SubjectConsent]:
        """Consent state of every subject of a brand for one purpose at `as_of`."""
        facts: dict[str, list[ConsentFact]] = defaultdict(list)
        flags: dict[str, tuple[bool, bool]] = {}
        for row in self.repo.events_for(brand_id, purpose, as_of):
            flags[row.subject_key] = (row.is_minor, row.guardian_consent)
            if row.id is not None:
                facts[row.subject_key].append(
                    ConsentFact(row.occurred_at, row.id, ConsentAction(row.action), row.separate))
        return {
            key: SubjectConsent(derive_state(facts.get(key, ())), minor, guardian)
            for key, (minor, guardian) in flags.items()
        }

    def summary(self, as_of: datetime) -> dict[str, dict[str, int]]:
        """Counts of subjects by purpose and current state (subjects with any event)."""
        facts: dict[tuple[int, str], list[ConsentFact]] = defaultdict(list)
        for row in self.repo.all_events(as_of):
            facts[(row.subject_id, row.purpose)].append(
                ConsentFact(row.occurred_at, row.id, ConsentAction(row.action), row.separate))
        out: dict[str, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in ConsentState
                                                              if s is not ConsentState.NONE})
        for (_, purpose), fs in facts.items():
            out[purpose][derive_state(fs).value] += 1
        return {k: dict(v) for k, v in sorted(out.items())}
