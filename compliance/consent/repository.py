"""Every consent query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from compliance.consent.models import ConsentEvent
from compliance.subjects.models import Subject


class ConsentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, events: Iterable[ConsentEvent]) -> None:
        self.session.add_all(list(events))
        self.session.flush()

    def events_for(self, brand_id: str, purpose: str, as_of: datetime) -> list[Row]:
        return list(self.session.execute(
            select(Subject.subject_key, Subject.is_minor, Subject.guardian_consent,
                   ConsentEvent.id, ConsentEvent.occurred_at, ConsentEvent.action,
                   ConsentEvent.separate)
            .join(ConsentEvent, (ConsentEvent.subject_id == Subject.id)
                  & (ConsentEvent.purpose == purpose)
                  & (ConsentEvent.occurred_at <= as_of), isouter=True)
            .where(Subject.brand_id == brand_id)
        ).all())

    def all_events(self, as_of: datetime) -> list[Row]:
        return list(self.session.execute(
            select(ConsentEvent.brand_id, ConsentEvent.subject_id, ConsentEvent.purpose,
                   ConsentEvent.id, ConsentEvent.occurred_at, ConsentEvent.action,
                   ConsentEvent.separate)
            .where(ConsentEvent.occurred_at <= as_of)
        ).all())

    def count_events(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)
