"""The DPO report's governance section and checklist lines (issue 22): the agreement and its
version, assessments with approver and retention date, cross-border totals against their band,
an incident past its deadline failing the checklist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance.database import Database
from compliance.report.builder import build_report
from compliance.report.render import render_html
from tests.compliance.governance.records import governance_records

pytestmark = pytest.mark.integration


def test_governance_section_and_checklist(db: Database) -> None:
    governance_records(db, summary="misdirected e-mail",
                       discovered_at=datetime.now(UTC) - timedelta(days=5))
    with db.reading() as s:
        report = build_report(s)
    g = report["governance"]
    assert g["agreement"]["version"] == "2026.1" and len(g["agreement"]["parties"]) == 4
    assert g["assessments"][0]["approved_by"] == "dpo#2"
    assert g["cross_border"]["totals"][0]["band"] == "cross_border.provisions_art5_6.exempt"
    assert g["incidents"][0]["overdue"] is True
    rows = {r["key"]: r["status"] for r in report["checklist"]["items"]}
    assert rows["governance.incident_deadlines"] == "fail"
    assert rows["governance.assessments"] == "pass"
    assert rows["governance.protection_officer"] == "not_applicable"
    html = render_html(report)
    assert "alliance.agreement v2026.1" in html and "misdirected e-mail" in html
