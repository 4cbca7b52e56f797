"""The DPO report's cross-brand section lists every overlap run of the period (who asked,
which brands, how many entered, the size released) and counts the refusals (issue 26)."""

from __future__ import annotations

import pytest

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.report.builder import build_report
from compliance.report.render import render_html
from tests.privacy.overlap.records import overlap_records

pytestmark = pytest.mark.integration


def test_overlap_runs_and_refusals_are_in_the_report(db: Database) -> None:
    overlap_records(db)
    with db.unit_of_work() as s:
        AuditLog(s).record("overlap.refused", actor="dpo#1", rule_id="alliance.join_key.exact_to",
                           data={"run_id": "x", "brands": ["a", "b"], "reason": "exact"})
    with db.reading() as s:
        report = build_report(s)
    cb = report["cross_brand"]
    [run] = cb["runs"]
    assert (run["requester"], run["brands"], run["mode"]) == ("dpo", ["brand-a", "brand-b"],
                                                              "exact")
    assert run["entered"] == {"brand-a": 3, "brand-b": 4} and run["size_released"] == 2
    assert (cb["exact"], cb["refused"], cb["evidence"]["events"]) == (1, 1, 2)
    html = render_html(report)
    assert 'id="cross_brand"' in html and "brand-a ∩ brand-b" in html
    assert "跨品牌客户重合" in html and "PIPL Art. 23" in html


def test_a_dedup_linkage_is_listed_with_what_it_dropped(db: Database) -> None:
    overlap_records(db, dedup=True)
    with db.reading() as s:
        report = build_report(s)
    run = report["cross_brand"]["runs"][1]
    assert (run["mode"], run["brands"]) == ("dedup", ["brand-a", "brand-b", "brand-c"])
    assert run["size_released"] is None and run["dropped_duplicates"] == 3
    assert "— (3 dropped as duplicates)" in render_html(report)
