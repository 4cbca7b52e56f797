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
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.audit.trace import TraceService
from compliance.consent.models import ConsentEvent
from compliance.consent.schemas import ConsentImportItem, ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import Database, utcnow
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


def _traces(s: Session, subjects: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Each subject's 7-day trace as (action, purpose, consent event id) lines."""
    trace = TraceService(s)
    return {key: [(line.action, line.purpose, line.evidence.get("event_id"))
                  for line in trace.trace("subject", key, now=utcnow()).lines]
            for key in subjects}


def _shape(db: Database
           ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, Any]]:
    with db.reading() as s:
        events = [tuple(r) for r in s.execute(
            select(ConsentEvent.id, Subject.subject_key, ConsentEvent.purpose,
                   ConsentEvent.action, ConsentEvent.by_guardian, ConsentEvent.idempotency_key)
            .join(Subject, Subject.id == ConsentEvent.subject_id).order_by(ConsentEvent.id))]
        subjects = [tuple(r) for r in s.execute(
            select(Subject.subject_key, Subject.is_minor, Subject.guardian_consent)
            .order_by(Subject.subject_key))]
        traces = _traces(s, [str(key) for key, *_ in subjects])
        assert AuditLog(s).verify().verified
    return events, subjects, traces


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
    events and subjects, and each subject's trace finds the same consent events (one audit
    event per batch, indexed per subject, or one per event); minors need their guardian,
    as alone."""
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


def test_a_batch_is_one_audit_event_whatever_its_size(db: Database) -> None:
    """One `consent.imported` event per batch (issue 24), holding counts, not one per
    consent event; a replayed batch adds none."""
    _setup(db)
    for items in ([_item(i) for i in range(300)], [_item(i) for i in range(300, 310)],
                  [_item(i) for i in range(300)]):
        _import(db, items)
    with db.reading() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.data).where(
            AuditEvent.action.like("consent.%")).order_by(AuditEvent.seq)).all()
        assert [a for a, _ in rows] == ["consent.imported", "consent.imported"]
        assert rows[0][1]["events"] == 300 and rows[0][1]["actions"] == {
            "grant": 200, "withdraw": 100}
        entry = rows[0][1]["anchor_rows"]["consent_events"]
        assert entry["ranges"] == [[1, 300]] and len(entry["digests"]) == 300 * 32
        assert AuditLog(s).verify().verified


def test_the_trace_finds_each_consent_event_of_a_batch_imported_subject(db: Database) -> None:
    _setup(db)
    items = [_item(i, subject=7, key=f"import:seven-{i}", purpose=p)
             for i, p in enumerate(("marketing", "model_training"), start=1)]
    _import(db, [_item(20), *items, _item(21)])
    with db.reading() as s:
        ids = list(s.scalars(select(ConsentEvent.id).join(Subject).where(
            Subject.subject_key == "subject00007").order_by(ConsentEvent.id)))
        lines = TraceService(s, {"marketing": ["contact"]}).trace(
            "subject", "subject00007", now=utcnow()).lines
    assert [(ln.action, ln.purpose, ln.evidence["event_id"]) for ln in lines] == [
        ("consent.grant", "marketing", ids[0]), ("consent.grant", "model_training", ids[1])]
    assert lines[0].data_categories == ["contact"] and lines[0].actor == "brand:brand-a"
    assert len({ln.seq for ln in lines}) == 1  # the batch's one event, its chained hash
    with db.reading() as s:
        assert TraceService(s).trace("subject", "subject00007", now=utcnow(),
                                     brand_id="brand-b").lines == []


def test_verify_names_an_edited_batch_row_and_a_removed_trace_row(db: Database) -> None:
    """The batch's one event still anchors each consent event and each index row: an edit
    is named by table and row, not lost in the batch."""
    _setup(db)
    _import(db, [_item(i) for i in range(50)])
    with db.unit_of_work() as s:
        s.execute(text("UPDATE consent_events SET action = 'refuse' WHERE id = 3"))
        s.execute(text("DELETE FROM audit_subjects WHERE ref_id = 9"))
    with db.reading() as s:
        result = AuditLog(s).verify()
    assert not result.verified
    assert "consent_events row 3: edited since its audit event" in result.rows
    assert any(r.startswith("audit_subjects row ") and "deleted" in r for r in result.rows)
