"""The DPO report's sections, checklist and evidence on generated records."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.consent.state import ConsentAction, ConsentFact, derive_state, withdrawals
from compliance.database import Database
from compliance.policy.loader import load_policies, policy_dir
from compliance.policy.schemas import ConsentState
from compliance.report import checklist
from compliance.report.builder import build_period_report, build_report
from compliance.report.charts import bars, burn_down
from compliance.report.consent_coverage import unenforced_separate
from compliance.report.evidence import Window
from compliance.report.period import bucket_label, parse_period
from compliance.report.render import render_html
from compliance.report.synthetic import Scale, generate

T0 = datetime(2026, 7, 1, tzinfo=UTC)
pytestmark = pytest.mark.xdist_group("report-sections")

PERIOD = parse_period("2026-Q3")
SCALE = Scale(subjects=600, consent_events=3000, runs=6, decisions_per_brand=20,
              requests=40, late_requests=2, releases=30)


def _fact(day: int, action: str, seq: int) -> ConsentFact:
    return ConsentFact(T0 + timedelta(days=day), seq, ConsentAction(action))


@pytest.mark.unit
def test_withdrawals_are_spans_of_consent_ended_by_a_withdrawal() -> None:
    facts = [_fact(1, "grant", 1), _fact(2, "grant", 2), _fact(5, "withdraw", 3),
             _fact(8, "grant", 4), _fact(9, "refuse", 5), _fact(10, "withdraw", 6),
             _fact(12, "grant", 7), _fact(15, "withdraw", 8)]
    spans = withdrawals(reversed(facts))  # order of arrival does not matter
    assert [(s.granted_at.day, s.withdrawn_at.day) for s in spans] == [(2, 6), (13, 16)]
    assert withdrawals([_fact(1, "withdraw", 1)]) == []


@pytest.mark.unit
def test_checklist_scores_pass_fail_review_and_not_applicable() -> None:
    policies = load_policies()
    items = {i.key: i for i in policies.checklist.items}
    chosen = [items["audit.log_intact"], items["requests.on_time"],
              items["consent.withdrawn_models_reviewed"], items["aggregates.within_budget"]]
    rows = checklist.score(chosen, {"audit.verified": True, "requests.closed_late": 3,
                                    "consent.models_trained_on_withdrawn": 2,
                                    "aggregates.ledgers_over_limit": None}, ["pipl"])
    assert [r["status"] for r in rows] == ["pass", "fail", "review", "not_applicable"]
    assert set(rows[1]["refs"]) == {"pipl"} and "Art. 50" in rows[1]["refs"]["pipl"]
    assert checklist.summary(rows) == {"pass": 1, "fail": 1, "review": 1, "not_applicable": 1}
    with pytest.raises(KeyError, match="unknown metric"):
        checklist.score(chosen, {"audit.verified": True}, ["pipl"])


@pytest.mark.unit
def test_a_policy_edit_that_drops_separate_consent_is_caught() -> None:
    policies = load_policies()
    assert unenforced_separate(policies) == []
    pipl = policies.jurisdictions["pipl"]
    weakened = pipl.model_copy(update={"rules": tuple(
        r for r in pipl.rules if r.key != "pipl.art23.separate_consent")})
    edited = dataclasses.replace(policies, jurisdictions={**policies.jurisdictions,
                                                           "pipl": weakened})
    assert ("pipl", "cross_brand_sharing") in unenforced_separate(edited)


@pytest.mark.unit
def test_charts_escape_labels_and_scale_to_the_limit() -> None:
    svg = bars(["<b>2026-07</b>"], {"grant & co": [3.0]}, "consent")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "grant &amp; co" in svg
    assert bars([], {}, "empty") == ""
    line = burn_down([1.5, 0.5], 2.0, "budget")
    assert line.startswith("<svg") and "2 releases" in line
    assert bucket_label(datetime(2026, 9, 17, tzinfo=UTC)) == "2026-09"
    assert bucket_label(datetime(2026, 9, 17, tzinfo=UTC), weekly=True) == "2026-09-14"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('report') / 'comity.db'}")
    written = generate(db, PERIOD, SCALE, seed=3)
    yield db, written
    db.dispose()


@pytest.mark.integration
def test_period_report_on_generated_records(generated: Any) -> None:
    db, written = generated
    with db.reading() as s:
        report = build_period_report(s, PERIOD)
    status = {i["key"]: i["status"] for i in report["checklist"]["items"]}
    assert status["requests.on_time"] == "fail"  # two requests were answered late
    assert report["requests"]["totals"]["late"] == SCALE.late_requests
    assert report["requests"]["totals"]["received"] == written["requests"]
    assert status["audit.log_intact"] == status["audit.checkpoint_signed"] == "pass"
    assert status["training.minors_guarded"] == "pass"
    assert status["aggregates.within_budget"] == "pass"
    assert len(report["training_runs"]) == SCALE.runs
    assert all(r["dp"]["epsilon"] == 3.0 and r["secure_aggregation"]
               for r in report["training_runs"])
    cov = report["consent_coverage"]["coverage"]
    counted = sum(sum(row[s] for s in ("granted", "separate", "refused", "withdrawn"))
                  for row in cov)
    subjects_with_events = {(row["brand_id"], row["purpose"]) for row in cov}
    assert counted <= written["consent_events"] and len(subjects_with_events) == 20
    assert sum(r["runs"] for r in report["pii_findings"]["findings"]) == SCALE.runs * 3 * 4
    html = render_html(report)
    assert html.count("<svg") >= 3 and "requests.on_time" in html
    last = report["training_runs"][-1]  # the value of joining, per brand, in the run's section
    assert sorted(last["per_brand_lift"]) == sorted(b["brand_id"] for b in last["brands"])
    assert f'id="lift-{last["run_id"][:8]}"' in html


@pytest.mark.integration
def test_evidence_digest_can_be_recomputed_from_the_audit_log(generated: Any) -> None:
    db, _ = generated
    with db.reading() as s:
        report = build_period_report(s, PERIOD)
        ev = report["requests"]["evidence"]
        hashes = s.scalars(select(AuditEvent.hash).where(
            AuditEvent.action.in_(ev["actions"]), AuditEvent.occurred_at >= PERIOD.start,
            AuditEvent.occurred_at < PERIOD.end).order_by(AuditEvent.seq)).all()
    assert ev["events"] == len(hashes) > SCALE.requests  # opened, and closed by the end
    assert ev["sha256"] == hashlib.sha256("".join(f"{h}\n" for h in hashes).encode()
                                          ).hexdigest()


@pytest.mark.integration
def test_flagged_models_match_a_brute_force_recount(generated: Any) -> None:
    """A run is flagged for each subject whose consent it relied on and who withdrew
    afterwards; recount that from the raw consent events, subject by subject."""
    from compliance.consent.service import ConsentService

    db, _ = generated
    with db.reading() as s:
        report = build_period_report(s, PERIOD)
        facts = ConsentService(s).facts_by_subject(PERIOD.end)
    flagged = {f["run_id"]: f["subjects_withdrawn_since"]
               for f in report["consent_coverage"]["models_trained_on_withdrawn"]}
    assert flagged, "generated withdrawals should flag some runs"
    for run in report["training_runs"]:
        t = datetime.fromisoformat(run["consent_as_of"])
        brands = {b["brand_id"] for b in run["brands"]}
        expected = 0
        for (brand, _, purpose), fs in facts.items():
            if brand not in brands or purpose != run["purpose"]:
                continue
            before = [f for f in fs if f.occurred_at <= t]
            after = sorted((f for f in fs if f.occurred_at > t),
                           key=lambda f: (f.occurred_at, f.seq))
            ended = next((f for f in after if f.action is not ConsentAction.GRANT), None)
            if derive_state(before) in (ConsentState.GRANTED, ConsentState.SEPARATE) and \
                    ended is not None and ended.action is ConsentAction.WITHDRAW:
                expected += 1
        assert flagged.get(run["run_id"], 0) == expected


@pytest.mark.integration
def test_a_checklist_threshold_is_policy_data(generated: Any, tmp_path: Path) -> None:
    db, _ = generated
    policies_copy = tmp_path / "policies"
    shutil.copytree(policy_dir(), policies_copy)
    path = policies_copy / "audit_checklist.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in doc["items"]:
        if item["key"] == "requests.on_time":
            item["expect"] = {"max": 5}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with db.reading() as s:
        report = build_report(s, as_of=PERIOD.end, window=Window(PERIOD.start, PERIOD.end),
                              policies=load_policies(policies_copy))
    status = {i["key"]: i["status"] for i in report["checklist"]["items"]}
    assert status["requests.on_time"] == "pass"
