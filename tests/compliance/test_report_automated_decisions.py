"""The DPO report counts automated decisions made, refused and explained in the period (PIPL
Art. 24; GDPR Art. 22; CCPA ADMT), from the serving and request audit events (issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.report.builder import build_report
from compliance.report.evidence import Window
from compliance.report.render import render_html

pytestmark = pytest.mark.integration

START = datetime(2026, 7, 1, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(days=92))


def _records(db: Database) -> None:
    """Three serving runs and four completed requests inside the window, one of each outside."""
    inside, before = START + timedelta(days=10), START - timedelta(days=3)
    with db.unit_of_work() as s:
        audit = AuditLog(s)
        for at in (inside, inside, before):
            audit.record("serving.churn_scored", actor="brand:a", brand_id="a", occurred_at=at,
                         data={"requested": 10, "personalized": 7, "not_personalized": 3,
                               "model_version": 1})
        audit.record("serving.recommended", actor="brand:b", brand_id="b", occurred_at=inside,
                     data={"requested": 5, "personalized": 1, "not_personalized": 4, "k": 10})
        for kind, at in (("explanation", inside), ("explanation", inside),
                         ("explanation", before), ("refuse_personalization", inside),
                         ("refuse_automated_decision", inside), ("access", inside)):
            audit.record("request.completed", actor="brand:a", brand_id="a", occurred_at=at,
                         data={"request_id": "r", "type": kind, "on_time": True})


def test_made_refused_and_explained_are_counted_in_the_period(db: Database) -> None:
    _records(db)
    with db.reading() as s:
        report = build_report(s, as_of=WINDOW.end, window=WINDOW)
    ad = report["automated_decisions"]
    assert (ad["serving_runs"], ad["made"], ad["not_personalized"]) == (3, 15, 10)
    assert (ad["refusal_requests"], ad["explained"]) == (2, 2)
    assert "PIPL Art. 24" in ad["sources"]["made"] and "GDPR Art. 22" in ad["sources"]["made"]
    assert ad["evidence"]["events"] == 3 + 5
    html = render_html(report)
    assert 'id="automated_decisions"' in html and "11 CCR 7222" in html
    assert "自动化决策" in html  # the zh label beside the English one
