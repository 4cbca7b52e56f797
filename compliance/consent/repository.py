"""Every consent query: subjects as consent sees them, consent events, and the rows a
snapshot is derived from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from compliance.audit import anchors
from compliance.consent.models import ConsentEvent
from compliance.database import idempotency_match
from compliance.subjects.models import Brand, Subject


class ConsentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def brand(self, brand_id: str) -> Brand | None:
        return self.session.get(Brand, brand_id)

    def subject(self, brand_id: str, key: str) -> Subject | None:
        return self.session.scalar(select(Subject).where(Subject.brand_id == brand_id,
                                                         Subject.subject_key == key))

    def subject_by_id(self, subject_id: int) -> Subject | None:
        return self.session.get(Subject, subject_id)

    def add_subject(self, subject: Subject) -> Subject:
        self.session.add(subject)
        self.session.flush()
        return subject

    def subject_facts(self, brand_id: str, key: str) -> Row | None:
        """(id, jurisdiction, is_minor) of a subject, without loading the ORM object."""
        return self.session.execute(select(
            Subject.id, Subject.jurisdiction, Subject.is_minor).where(
            Subject.brand_id == brand_id, Subject.subject_key == key)).first()

    def update_subject(self, subject_id: int, values: Mapping[str, object]) -> None:
        self.session.execute(update(Subject).where(Subject.id == subject_id).values(**values))

    def event(self, event_id: int) -> ConsentEvent:
        return self.session.get_one(ConsentEvent, event_id)

    def event_id_for_key(self, principal_id: int | None, idempotency_key: str) -> int | None:
        return self.session.scalar(select(ConsentEvent.id).where(idempotency_match(
            ConsentEvent.principal_id, ConsentEvent.idempotency_key, principal_id,
            idempotency_key)))

    def insert_subject(self, values: Mapping[str, object]) -> int:
        """One Core INSERT ... RETURNING id for a subject first seen in a consent event."""
        return int(self.session.execute(
            insert(Subject).values(**values).returning(Subject.id)).scalar_one())

    def insert_event(self, values: Mapping[str, object], *, savepoint: bool = True) -> int:
        """One Core INSERT ... RETURNING id. On SQLite, writers are serialized (BEGIN
        IMMEDIATE) and the caller checked the idempotency key in this same transaction, so no
        concurrent insert can collide: no savepoint. Elsewhere a savepoint keeps a unique
        violation from aborting the caller's transaction, unless the caller serialized the
        writers itself (`savepoint=False`, the group-commit writer)."""
        stmt = insert(ConsentEvent).values(**values).returning(ConsentEvent.id)
        if not savepoint or self.session.get_bind().dialect.name == "sqlite":
            event_id = int(self.session.execute(stmt).scalar_one())
        else:
            with self.session.begin_nested():
                event_id = int(self.session.execute(stmt).scalar_one())
        anchors.touch(self.session, "consent_events", [event_id])
        return event_id

    def add_many(self, events: Iterable[ConsentEvent]) -> None:
        self.session.add_all(list(events))
        self.session.flush()

    def page(self, *, brand_id: str | None, subject: str | None, purpose: str | None,
             after_id: int, limit: int) -> list[Row]:
        """(event, subject key) after `after_id`, in id order."""
        q = (select(ConsentEvent, Subject.subject_key)
             .join(Subject, Subject.id == ConsentEvent.subject_id)
             .where(ConsentEvent.id > after_id).order_by(ConsentEvent.id).limit(limit))
        if brand_id:
            q = q.where(ConsentEvent.brand_id == brand_id)
        if subject:
            q = q.where(Subject.subject_key == subject)
        if purpose:
            q = q.where(ConsentEvent.purpose == purpose)
        return list(self.session.execute(q).all())

    def events_of_subject(self, subject_id: int) -> list[ConsentEvent]:
        return list(self.session.scalars(select(ConsentEvent).where(
            ConsentEvent.subject_id == subject_id)))

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
                   ConsentEvent.separate, ConsentEvent.recorded_at)
            .where(ConsentEvent.occurred_at <= as_of)
        ).all())

    def count_events(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)
