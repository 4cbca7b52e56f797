"""A brand's subjects and consent records synced into compliance in one flush: only
pseudonyms, derived flags (minor, guardian consent) and consent events arrive here; names,
numbers and addresses stay in the brand's silo."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.consent.state import ConsentAction
from compliance.errors import InputError
from compliance.subjects.models import Brand, Subject


@dataclass(frozen=True)
class ImportSummary:
    brand_id: str
    subjects: int
    minors: int
    consent_events: int
    digest: str


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class ConsentImporter:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def import_silo(self, brand_id: str, customers: pd.DataFrame, consents: pd.DataFrame,
                        *, pseudonym: Callable[[str], str], minor_age: int, as_of: datetime,
                        guardian_ids: set[str], actor: str, channel: str = "app",
                        notice_version: str = "2026-01") -> ImportSummary:
        """Create subjects (pseudonymous) and their consent events in one flush."""
        if self.session.get(Brand, brand_id) is None:
            raise InputError(f"brand '{brand_id}' is not registered")
        existing = set(self.session.scalars(select(Subject.subject_key)
                                            .where(Subject.brand_id == brand_id)))
        ids: dict[str, Subject] = {}
        minors = 0
        for row in customers.itertuples(index=False):
            cid = str(row.customer_id)
            key = pseudonym(cid)
            if key in existing:
                continue
            try:
                born = date.fromisoformat(str(row.birth_date))
            except ValueError:
                raise InputError(f"customer {key[:8]}…: birth_date is not an ISO date",
                                 column="birth_date") from None
            minor = age_on(born, as_of.date()) < minor_age
            minors += minor
            ids[cid] = Subject(brand_id=brand_id, subject_key=key, is_minor=minor,
                               guardian_consent=minor and cid in guardian_ids)
        self.session.add_all(ids.values())
        self.session.flush()
        events = []
        h = hashlib.sha256()
        for row in consents.itertuples(index=False):
            subject = ids.get(str(row.customer_id))
            if subject is None:
                continue
            action = ConsentAction(row.action)
            at = pd.Timestamp(row.occurred_at).to_pydatetime()
            events.append(ConsentEvent(
                brand_id=brand_id, subject_id=subject.id, purpose=row.purpose,
                action=action.value, separate=bool(row.separate),
                by_guardian=bool(row.by_guardian), notice_version=notice_version,
                channel=channel, lawful_basis="consent", actor=actor, occurred_at=at))
            h.update(f"{subject.subject_key}|{row.purpose}|{action.value}|{at.isoformat()}\n"
                     .encode())
        self.session.add_all(events)
        self.session.flush()
        summary = ImportSummary(brand_id, len(ids), minors, len(events), h.hexdigest())
        self.audit.record("consent.imported", actor=actor, brand_id=brand_id, data={
            "subjects": summary.subjects, "minors": summary.minors,
            "consent_events": summary.consent_events, "events_sha256": summary.digest})
        return summary
