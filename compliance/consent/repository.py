"""Every consent query: subjects as consent sees them, consent events, and the rows a
snapshot is derived from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import Row, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from compliance.audit import anchors
from compliance.consent.models import ConsentEvent
from compliance.database import idempotency_match
from compliance.subjects.models import Brand, Subject

_T = TypeVar("_T")
_EVENTS = cast(Table, ConsentEvent.__table__)  # Core tables: bulk statements skip the ORM
_SUBJECTS = cast(Table, Subject.__table__)
_CHUNK = 2000  # keys per IN list: far below SQLite's (32,766) and PostgreSQL's bound limits


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


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

    def subjects_facts(self, keys: Iterable[tuple[str, str]]
                       ) -> dict[tuple[str, str], tuple[int, str, bool]]:
        """(id, jurisdiction, is_minor) of the subjects under these (brand, key) pairs that
        exist, without ORM objects: one SELECT per brand and chunk of keys."""
        by_brand: dict[str, set[str]] = {}
        for brand_id, key in keys:
            by_brand.setdefault(brand_id, set()).add(key)
        out: dict[tuple[str, str], tuple[int, str, bool]] = {}
        for brand_id, wanted in by_brand.items():
            for chunk in _chunks(sorted(wanted)):
                for key, sid, jurisdiction, minor in self.session.execute(select(
                        Subject.subject_key, Subject.id, Subject.jurisdiction, Subject.is_minor
                ).where(Subject.brand_id == brand_id, Subject.subject_key.in_(chunk))):
                    out[(brand_id, key)] = (sid, jurisdiction, bool(minor))
        return out

    def insert_subjects(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Subjects first seen in a group of consent events, in one executemany; one that a
        concurrent writer created meanwhile is kept as it is (ON CONFLICT DO NOTHING on the
        (brand, key) unique constraint): the caller reads the ids back."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(upsert(_SUBJECTS).on_conflict_do_nothing(
            index_elements=["brand_id", "subject_key"]), list(rows))

    def update_subjects(self, subject_ids: Iterable[int], values: Mapping[str, object]) -> None:
        """The same values on many subjects (their activity time, a guardian's consent)."""
        for chunk in _chunks(sorted(set(subject_ids))):
            self.session.execute(update(_SUBJECTS).where(
                _SUBJECTS.c.id.in_(chunk)).values(**values))

    def event(self, event_id: int) -> ConsentEvent:
        return self.session.get_one(ConsentEvent, event_id)

    def event_id_for_key(self, principal_id: int | None, idempotency_key: str) -> int | None:
        return self.session.scalar(select(ConsentEvent.id).where(idempotency_match(
            ConsentEvent.principal_id, ConsentEvent.idempotency_key, principal_id,
            idempotency_key)))

    def event_ids_for_keys(self, keys: Iterable[tuple[int | None, str]]
                           ) -> dict[tuple[int | None, str], int]:
        """The events already stored under these (principal, Idempotency-Key) pairs: one
        SELECT per principal and chunk of keys (the unique index serves each), the first
        event where a principal-less key was used twice."""
        by_principal: dict[int | None, set[str]] = {}
        for principal_id, key in keys:
            by_principal.setdefault(principal_id, set()).add(key)
        out: dict[tuple[int | None, str], int] = {}
        for principal_id, wanted in by_principal.items():
            for chunk in _chunks(sorted(wanted)):
                for stored_key, event_id in self.session.execute(
                        select(ConsentEvent.idempotency_key, ConsentEvent.id).where(
                            idempotency_match(ConsentEvent.principal_id,
                                              ConsentEvent.idempotency_key, principal_id,
                                              chunk)).order_by(ConsentEvent.id)):
                    out.setdefault((principal_id, str(stored_key)), event_id)
        return out

    def events_with_keys(self, event_ids: Iterable[int]) -> dict[int, Row]:
        """Stored events with their subject's key, by id, as Core rows (a replayed batch
        compares each with what was re-sent)."""
        out: dict[int, Row] = {}
        for chunk in _chunks(sorted(set(event_ids))):
            for row in self.session.execute(
                    select(*_EVENTS.c, Subject.subject_key)
                    .join(Subject, Subject.id == ConsentEvent.subject_id)
                    .where(ConsentEvent.id.in_(chunk))):
                out[row.id] = row
        return out

    def insert_events(self, rows: Sequence[Mapping[str, object]], *, savepoint: bool = True
                      ) -> list[int]:
        """Many events in one executemany (`insertmanyvalues`: a few multi-row INSERTs with
        RETURNING), their ids in the order of `rows`, all anchored. On SQLite, writers are
        serialized (BEGIN IMMEDIATE) and the caller checked the idempotency keys in this
        same transaction, so no concurrent insert can collide: no savepoint. Elsewhere a
        savepoint keeps a unique violation from aborting the caller's transaction, unless
        the caller serialized the writers itself (`savepoint=False`)."""
        if not rows:
            return []
        if self.session.get_bind().dialect.name == "sqlite":
            # SQLAlchemy cannot order a multi-row RETURNING on SQLite (it would fall back to
            # a row at a time), but under the write lock new rowids ascend in VALUES order.
            stmt = insert(_EVENTS).returning(_EVENTS.c.id)
            ids = sorted(int(i) for i in self.session.execute(stmt, list(rows)).scalars())
        else:
            stmt = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)
            with self.session.begin_nested() if savepoint else nullcontext():
                ids = [int(i) for i in self.session.execute(stmt, list(rows)).scalars()]
        anchors.touch_bulk(self.session, "consent_events", ids)  # one compact entry
        return ids

    def add_many(self, events: Iterable[ConsentEvent]) -> None:
        self.session.add_all(list(events))
        self.session.flush()

    def page(self, *, brand_id: str | None, subject: str | None, purpose: str | None,
             after_id: int, limit: int) -> list[Row]:
        """Events after `after_id` with their subject's key, in id order, as Core rows (a
        brand's sync reads every event a page at a time: no ORM objects)."""
        q = (select(*_EVENTS.c, Subject.subject_key)
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
