from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database


def _fill(db: Database, n: int = 6) -> None:
    with db.unit_of_work() as s:
        log = AuditLog(s)
        for i in range(n):
            log.record("test.event", actor="tester", data={"i": i, "subject": f"p{i:04d}"})


def _verify(db: Database):  # type: ignore[no-untyped-def]
    with db.unit_of_work() as s:
        return AuditLog(s).verify()


@pytest.mark.integration
def test_intact_chain_verifies(db: Database) -> None:
    _fill(db)
    res = _verify(db)
    assert res.verified and res.events == 6 and res.first_bad_seq is None


@pytest.mark.integration
def test_modified_event_is_named(db: Database) -> None:
    _fill(db)
    with db.unit_of_work() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(data={"i": 99}))
    res = _verify(db)
    assert not res.verified and res.first_bad_seq == 3 and "modified" in (res.problem or "")


@pytest.mark.integration
def test_deleted_event_is_named(db: Database) -> None:
    _fill(db)
    with db.unit_of_work() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    res = _verify(db)
    assert not res.verified and res.first_bad_seq == 4 and "deleted" in (res.problem or "")


@pytest.mark.integration
def test_reordered_events_are_detected(db: Database) -> None:
    _fill(db)
    with db.unit_of_work() as s:
        a, b = (s.scalars(select(AuditEvent).where(AuditEvent.seq == k)).one() for k in (2, 5))
        a_data, b_data = dict(a.data), dict(b.data)
        a.data, b.data = b_data, a_data
    res = _verify(db)
    assert not res.verified and res.first_bad_seq == 2


@pytest.mark.integration
def test_recomputed_tail_still_breaks_link(db: Database) -> None:
    """Rewriting one event and its own hash is caught by the next event's link."""
    _fill(db)
    from compliance.audit.chain import event_hash

    with db.unit_of_work() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        ev.data = {"i": 1000}
        ev.hash = event_hash(ev.prev_hash, ev.seq, ev.occurred_at, ev.actor, ev.action,
                             ev.brand_id, ev.rule_id, ev.data)
    res = _verify(db)
    assert not res.verified and res.first_bad_seq == 3


@pytest.mark.integration
@pytest.mark.postgres
def test_chain_on_postgres(postgres_url: str) -> None:
    pg = Database(postgres_url)
    try:
        _fill(pg)
        assert _verify(pg).verified
        with pg.unit_of_work() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(actor="mallory"))
        res = _verify(pg)
        assert not res.verified and res.first_bad_seq == 5
    finally:
        pg.dispose()
