from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from compliance.audit.service import AuditLog
from compliance.audit.trace import TraceService, parse_window
from compliance.database import Database, utcnow
from compliance.errors import InputError
from compliance.policy.loader import load_policies


def _log(db: Database) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        log = AuditLog(s)
        log.record("consent.grant", actor="brand:a#3", brand_id="a",
                   occurred_at=now - timedelta(days=10),
                   data={"subject": "s-old", "purpose": "model_training"})
        log.record("consent.grant", actor="brand:a#3", brand_id="a",
                   occurred_at=now - timedelta(days=2),
                   data={"subject": "s-1", "purpose": "model_training"})
        log.record("gate.decision", actor="brand:a", brand_id="a", rule_id="pipl.consent",
                   data={"run_id": "r-1", "subject": "s-1", "purpose": "model_training",
                         "allowed": True})
        log.record("gate.summary", actor="brand:a", brand_id="a",
                   data={"run_id": "r-1", "categories": ["purchase_history"],
                         "consent_snapshot_sha256": "ab" * 32})
        log.record("request.opened", actor="dpo#1", brand_id="a",
                   data={"subject": "s-2", "request_id": "q"})


def test_subject_trace_has_rule_actor_categories_and_digest(db: Database) -> None:
    _log(db)
    with db.reading() as s:
        t = TraceService(s, load_policies().purpose_categories()).trace("subject", "s-1")
        hashes: dict[int, str] = dict(s.execute(text("SELECT seq, hash FROM audit_events")).all())
    assert [line.action for line in t.lines] == ["consent.grant", "gate.decision"]
    decision = t.lines[1]
    assert decision.rule_id == "pipl.consent" and decision.actor == "brand:a"
    assert decision.evidence_digest == hashes[decision.seq]
    assert "purchase_history" in decision.data_categories
    assert decision.evidence["run_id"] == "r-1"


def test_window_excludes_older_events(db: Database) -> None:
    _log(db)
    with db.reading() as s:
        assert TraceService(s).trace("subject", "s-old").lines == []
        assert len(TraceService(s).trace("subject", "s-old", since="30d").lines) == 1


def test_run_and_actor_traces(db: Database) -> None:
    _log(db)
    with db.reading() as s:
        run = TraceService(s).trace("run", "r-1")
        assert [x.action for x in run.lines] == ["gate.decision", "gate.summary"]
        assert run.lines[1].data_categories == ["purchase_history"]
        assert run.lines[1].evidence["consent_snapshot_sha256"] == "ab" * 32
        # a role matches every token of it; the exact actor only itself
        assert len(TraceService(s).trace("actor", "brand:a").lines) == 2 + 1
        assert len(TraceService(s).trace("actor", "brand:a#3").lines) == 1


def test_limit_truncates_and_after_reads_on(db: Database) -> None:
    _log(db)
    with db.reading() as s:
        first = TraceService(s).trace("actor", "brand:a", limit=2)
        assert first.truncated and first.as_json()["next_after"] == first.lines[-1].seq
        rest = TraceService(s).trace("actor", "brand:a", after=first.lines[-1].seq)
        assert len(rest.lines) == 1 and not rest.truncated


def test_bad_windows_are_refused() -> None:
    assert parse_window("7d") == timedelta(days=7)
    assert parse_window("90m") == timedelta(minutes=90)
    for bad in ("7", "0d", "7w", "-1d", ""):
        with pytest.raises(InputError):
            parse_window(bad)


def test_sqlite_plans_use_the_trace_indexes(db: Database) -> None:
    """Without the indexes of migration 0009 a trace scans the whole log."""
    _log(db)
    with db.reading() as s:
        for by, value in (("subject", "s-1"), ("run", "r-1")):
            from compliance.audit.trace import DATA_KEYS, data_key
            expr = data_key(s, DATA_KEYS[by])
            plan = " ".join(str(r[-1]) for r in s.execute(text(
                f"EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE {expr} = :v "
                "ORDER BY seq"), {"v": value}))
            assert f"ix_audit_events_data_{DATA_KEYS[by]}" in plan, plan
        plan = " ".join(str(r[-1]) for r in s.execute(text(
            "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE actor = 'x' "
            "AND occurred_at >= '2026'")))
        assert "ix_audit_events_actor_occurred_at" in plan, plan
