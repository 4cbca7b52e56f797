"""The main job end to end on SQLite, through the real command line and Flower simulation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from federation.data.synthetic import generate_alliance

SEED, SCALE, ROUNDS = 11, 0.25, 3


pytestmark = pytest.mark.xdist_group("demo")

def _raw_identifiers() -> set[str]:
    values: set[str] = set()
    for silo in generate_alliance(seed=SEED, scale=SCALE):
        c = silo.customers
        for col in ("name", "phone", "email", "resident_id", "bank_card", "address",
                    "customer_id"):
            values |= {v for v in c[col] if isinstance(v, str) and len(v) >= 2}
        values |= {"".join(ch for ch in p if ch.isdigit())[-11:] for p in c["phone"]}
    return values


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "COMITY_DATABASE_URL": f"sqlite:///{work / 'comity.db'}",
           "COMITY_KEY_DIR": str(work / "keys"), "PYTHONUNBUFFERED": "1"}
    env.pop("COMITY_MASTER_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--out", str(work / "out"), "--seed",
         str(SEED), "--scale", str(SCALE), "--rounds", str(ROUNDS)],
        cwd=work, env=env, capture_output=True, text=True, timeout=900)
    logs = proc.stdout + proc.stderr
    assert proc.returncode == 0, logs[-4000:]
    return work / "out", work / "comity.db", logs


@pytest.mark.integration
@pytest.mark.slow
def test_demo_report_has_lineage_consent_and_verified_audit(demo_run: tuple[Path, Path, str]
                                                            ) -> None:
    out, _, _ = demo_run
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (out / "report.html").stat().st_size > 1000
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    runs = {r["model"]: r for r in report["training_runs"]}
    assert sorted(runs) == ["churn", "recommend"]
    run, rec = runs["churn"], runs["recommend"]
    assert all(r["status"] == "completed" for r in runs.values())
    assert run["rounds"] == ROUNDS and rec["rounds"] == 1  # DP item statistics: one round
    assert rec["secure_aggregation"] and rec["dp"]["epsilon"] <= 3.0
    assert rec["dp"]["mechanism"] == "gaussian item statistics"  # SecAgg+ rounds, OpenDP noise
    assert 0.0 <= rec["metrics"]["hr10"] <= 1.0 and "ndcg10" in rec["metrics"]
    assert rec["privacy_audit"]["score_threshold"]["members"] > 0
    assert {b["brand_id"] for b in run["brands"]} == {"lumen-tea", "north-outfitters",
                                                      "jade-beauty"}
    for b in run["brands"]:
        assert b["records_used"] > 0 and b["excluded_no_consent"] > 0
        assert len(b["consent_snapshot_sha256"]) == 64
    assert sum(b["excluded_minor"] for b in run["brands"]) > 0
    assert 0.5 < run["metrics"]["auc"] <= 1.0
    assert set(report["consent"]["model_training"]) >= {"granted", "withdrawn", "refused"}
    assert report["consent"]["model_training"]["withdrawn"] > 0
    assert report["audit"]["verified"] is True
    gate_events = report["audit"]["by_action"]["gate.decision"]
    assert gate_events == len(runs) * sum(b["subjects"] for b in report["brands"])
    assert all(n == 0 for n in report["retention"]["still_overdue"].values())
    (cp,) = report["audit"]["checkpoints"]
    assert cp["last_seq"] >= cp["first_seq"] >= 1
    witnesses = report["audit"]["witnesses"]  # every brand node checked the signed head
    assert (witnesses["tree_size"], witnesses["brands"]) == (cp["tree_size"], 3)
    assert report["audit"]["by_action"]["wire.audit"] == 2
    assert run["privacy_audit"]["loss_threshold"]["members"] > 0


@pytest.mark.integration
@pytest.mark.slow
def test_demo_report_checklist_requests_and_flagged_model(demo_run: tuple[Path, Path, str]
                                                          ) -> None:
    """The demo's requests come after training: the withdrawals flag the model for review,
    the deletion and access ran after a second person's approval, one request stays open."""
    out, _, _ = demo_run
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    status = {i["key"]: i["status"] for i in report["checklist"]["items"]}
    assert "fail" not in status.values(), status
    assert status["consent.withdrawn_models_reviewed"] == "review"
    assert status["audit.log_intact"] == status["requests.on_time"] == "pass"
    flagged = report["consent_coverage"]["models_trained_on_withdrawn"]
    assert {f["run_id"] for f in flagged} == {r["run_id"] for r in report["training_runs"]}
    assert all(f["subjects_withdrawn_since"] >= 2 for f in flagged)  # a withdrawal, a deletion
    assert status["training.privacy_audited"] == "pass"
    totals = report["requests"]["totals"]
    assert totals["open"] == 1 and totals["completed"] >= 5 and totals["late"] == 0
    assert report["audit"]["by_action"]["request.approved"] >= 2
    assert {f["brand_id"] for f in report["pii_findings"]["findings"]} == {
        b["brand_id"] for b in report["brands"]}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Compliance-audit checklist" in html


@pytest.mark.integration
@pytest.mark.slow
def test_demo_asks_dp_aggregates_across_silos_within_budget(demo_run: tuple[Path, Path, str]
                                                            ) -> None:
    out, _, _ = demo_run
    asked = json.loads((out / "aggregates.json").read_text(encoding="utf-8"))
    answered = [a["answer"] for a in asked if "answer" in a]
    refused = [a for a in asked if "refused" in a]
    assert len(answered) == 3 and len(refused) == 1
    assert all(a["federated"] and a["noise"] for a in answered)
    assert {g["key"]["churn"] for g in answered[1]["groups"]} <= {"churned", "retained"}
    assert {g["key"]["ltv_band"] for g in answered[2]["groups"]} <= {
        "none", "low", "medium", "high", "unknown"}
    budget = next(b for b in json.loads((out / "report.json").read_text(encoding="utf-8")
                                        )["aggregates"]["budgets"]
                  if b["dataset"] == "alliance_segments")
    assert budget["spent_epsilon"] == 2.0 <= budget["limit_epsilon"]
    assert (budget["releases"], budget["refusals"]) == (3, 1)
    assert refused[0]["epsilon_remaining"] == pytest.approx(0.0)


@pytest.mark.integration
@pytest.mark.slow
def test_demo_shows_brand_operations(demo_run: tuple[Path, Path, str]) -> None:
    """Issue 25: a masked lookup, an A/B readout and one refused for a small arm, a trace."""
    out, _, _ = demo_run
    ops = json.loads((out / "operations.json").read_text(encoding="utf-8"))
    fields = {f["field"]: f["value"] for f in ops["lookup"]["staff_view"]["fields"]}
    assert "phone" in fields and "****" in fields["phone"]
    assert [a["arm"] for a in ops["ab"]["readout"]["arms"]] == ["control", "coupon"]
    assert ops["ab"]["small_arm"]["refused"]
    actions = [e["action"] for e in ops["trace"]["events"]]
    assert {"pii.lookup", "pii.reveal_requested", "pii.reveal_confirmed",
            "pii.revealed"} <= set(actions)


@pytest.mark.integration
@pytest.mark.slow
def test_no_raw_pii_in_report_logs_or_database(demo_run: tuple[Path, Path, str]) -> None:
    out, db_file, logs = demo_run
    haystacks = {p.name: p.read_bytes() for p in out.iterdir()}
    haystacks["logs"] = logs.encode("utf-8")
    for f in db_file.parent.glob("comity.db*"):
        haystacks[f.name] = f.read_bytes()
    raw = _raw_identifiers()
    assert len(raw) > 1000  # the search has something to find
    leaks = [(name, v) for v in raw for name, data in haystacks.items()
             if v.encode("utf-8") in data]
    assert not leaks, f"{len(leaks)} raw identifiers found, e.g. in {leaks[0][0]}"


@pytest.mark.integration
@pytest.mark.slow
def test_demo_pdf_keeps_every_html_table_value_in_both_languages(
        demo_run: tuple[Path, Path, str]) -> None:
    from compliance.report.render import render_html, render_pdf
    from tests.compliance.test_report_pdf import missing_cells, page_sizes

    out, _, logs = demo_run
    pdf = (out / "report.pdf").read_bytes()
    assert missing_cells((out / "report.html").read_text(encoding="utf-8"), pdf) == []
    assert any(w > h for w, h in page_sizes(pdf))  # wide sections on landscape pages
    zh = {**json.loads((out / "report.json").read_text(encoding="utf-8")), "lang": "zh"}
    assert missing_cells(render_html(zh), render_pdf(zh)) == []
    assert ".notdef" not in logs
