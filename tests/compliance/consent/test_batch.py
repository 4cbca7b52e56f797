"""A brand's consent batch (`POST /v1/consents/batch`, `ConsentService.record_many`): a fixed
number of statements per batch whatever its size, the same events and audit trail as one
event at a time, and a bad row that refuses the batch by its index and field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.consent.schemas import ConsentImportItem, ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.errors import ConflictError, InputError
from compliance.policy.loader import load_policies
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService

POLICIES = load_policies()


def _item(i: int, *, subject: int | None = None, key: str | None = None, **extra: Any
          ) -> ConsentImportItem:
    return ConsentImportItem.model_validate({
        "brand_id": "brand-a", "subject": f"subject{(i if subject is None else subject):05d}",
        "purpose": "marketing", "action": "grant" if i % 3 else "withdraw",
        "notice_version": "v1", "occurred_at": "2026-01-02T03:04:05Z",
        "idempotency_key": key or f"import:{i:08d}", **extra})


def _setup(db: Database) -> None:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-a", "Brand A", "pipl", actor="test")


@contextmanager
def _counted(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _import(db: Database, items: list[ConsentImportItem]) -> tuple[int, int]:
    with db.unit_of_work() as s:
        return ConsentService(s).record_many(items, actor="brand:brand-a", policies=POLICIES)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The embedded SQLite file, and PostgreSQL where COMITY_TEST_POSTGRES_URL names one."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    database = Database(url)
    yield database
    database.dispose()


@pytest.mark.parametrize("size", [40, 400])
def test_statements_per_batch_do_not_grow_with_its_events(any_db: Database, size: int
                                                          ) -> None:
    db = any_db
    _setup(db)
    _import(db, [_item(i) for i in range(0, size, 2)])  # half the subjects exist already
    items = [_item(i) for i in range(size)]  # half replayed, half new on mixed subjects
    with _counted(db) as seen:
        assert _import(db, items) == (size // 2, size // 2)
    # keys, subjects, prior events, subject insert and update, events, anchors, audit head,
    # audit rows: a bounded number of (executemany) statements, not several per event
    assert len(seen) <= 24, len(seen)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == size
        assert AuditLog(s).verify().verified


def test_a_bad_row_refuses_the_batch_by_index_and_field_and_stores_nothing(
        any_db: Database) -> None:
    db = any_db
    _setup(db)
    items = [_item(i) for i in range(10)]
    items[7] = _item(7, purpose="cross_brand_sharing", separate=False)
    items[7] = items[7].model_copy(update={"action": "grant"})
    with pytest.raises(InputError) as exc:
        _import(db, items)
    assert exc.value.message.startswith("events[7]: separate:"), exc.value.message
    assert "subject0000" not in exc.value.message  # the row's index, never its key
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0
        assert s.scalar(select(func.count()).select_from(Subject)) == 0


def test_a_key_reused_with_another_body_names_its_row(db: Database) -> None:
    _setup(db)
    _import(db, [_item(1, key="import:same-key")])
    with pytest.raises(ConflictError) as exc:
        _import(db, [_item(2), _item(3, key="import:same-key")])
    assert exc.value.message.startswith("events[1]: ")
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_a_key_twice_in_one_batch_is_one_event(db: Database) -> None:
    _setup(db)
    assert _import(db, [_item(1, key="import:twice"), _item(1, key="import:twice")]) == (1, 1)


def _shape(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str]]:
    with db.reading() as s:
        events = [tuple(r) for r in s.execute(
            select(ConsentEvent.id, Subject.subject_key, ConsentEvent.purpose,
                   ConsentEvent.action, ConsentEvent.by_guardian, ConsentEvent.idempotency_key)
            .join(Subject, Subject.id == ConsentEvent.subject_id).order_by(ConsentEvent.id))]
        subjects = [tuple(r) for r in s.execute(
            select(Subject.subject_key, Subject.is_minor, Subject.guardian_consent)
            .order_by(Subject.subject_key))]
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("consent.%")).order_by(AuditEvent.seq)))
        assert AuditLog(s).verify().verified
    return events, subjects, actions


_rows = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8), st.booleans(),
                           st.sampled_from(["grant", "withdraw", "refuse"]), st.booleans()),
                 min_size=1, max_size=25)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, split=st.integers(1, 25))
def test_batches_record_what_one_event_at_a_time_records(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, int, bool, str, bool]],
        split: int) -> None:
    """Batched (in any split, re-sent once) and one request per event end in the same
    events, subjects and audit actions; minors need their guardian, as alone."""
    items = [_item(k, subject=subj, key=f"import:{subj}-{k}-{action}-{guardian}",
                   action=action, is_minor=minor, by_guardian=guardian or action == "grant")
             for subj, k, minor, action, guardian in rows]
    shapes = []
    for batched in (True, False):
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('b')}/c.db")
        _setup(db)
        if batched:
            for _ in range(2):
                for i in range(0, len(items), split):
                    _import(db, items[i:i + split])
        else:
            for it in items:
                with db.unit_of_work() as s:
                    ConsentService(s).record(
                        ConsentIn.model_validate(it.model_dump(exclude={"idempotency_key"})),
                        actor="brand:brand-a", policies=POLICIES,
                        idempotency_key=it.idempotency_key)
        shapes.append(_shape(db))
        db.dispose()
    assert shapes[0] == shapes[1]
