"""`comity bench churn|recommend` end to end: real Flower simulation, one JSON with all
settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_churn_on_a_customer_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 900
    spend = rng.gamma(2.0, 30.0, n)
    plan = rng.choice(["monthly", "yearly"], n)
    risk = -1.5 + 0.02 * spend - 1.2 * (plan == "yearly") + rng.normal(0, 0.5, n)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "yes", "no")
    lines = ["cid,spend,plan,churned"] + [f"c{i},{spend[i]:.2f},{plan[i]},{churn[i]}"
                                           for i in range(n)]
    lines.append("c5,1.0,monthly,no")  # duplicate id: reported, not loaded
    data = tmp_path / "customers.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "bench", "churn", "--data", str(data),
         "--id-col", "cid", "--label-col", "churned", "--positive", "yes", "--brands", "3",
         "--rounds", "4", "--epochs", "5", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["load"]["bad_rows"] == 1 and r["load"]["rows_loaded"] == n
    for key in ("centralized", "local_only", "federated", "federated_dp"):
        assert 0.6 < r[key]["metrics"]["auc"] <= 1.0, (key, r[key])
        assert r[key]["seconds"] >= 0
    assert r["federated_dp"]["epsilon"] <= 3.0 and r["federated_dp"]["delta"] == 1e-5
    assert len(r["local_only"]["brands"]) == 3


def test_bench_rejects_a_table_without_columns(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "api.cli", "bench", "churn", "--data",
                           str(data), "--id-col", "a", "--label-col", "churn", "--json",
                           str(tmp_path / "o.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "column 'churn' not found" in proc.stderr
    assert not (tmp_path / "o.json").exists()


def test_bench_recommend_on_a_transaction_log(tmp_path: Path) -> None:
    """Any transaction log through the column options: customers walk a catalogue in
    order, so the federated sequential model must beat popularity by far."""
    rng = np.random.default_rng(5)
    lines = ["shopper,when,sku"]
    for c in range(240):
        start = int(rng.integers(0, 60))
        for step in range(6):
            lines.append(f"s{c},2025-01-{step + 1:02d},sku{(start + step) % 60}")
    lines.append("s1,not-a-date,sku3")  # a bad row: reported, not loaded
    data = tmp_path / "log.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rec.json"
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "bench", "recommend", "--data", str(data),
         "--customer-col", "shopper", "--time-col", "when", "--item-col", "sku",
         "--time-format", "%Y-%m-%d", "--brands", "3", "--rounds", "15", "--epochs", "15",
         "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["load"]["bad_rows"] == 1 and r["users"] == 240 and r["items"] == 60
    for key in ("centralized", "local_only", "popularity", "federated", "federated_dp"):
        assert 0.0 <= r[key]["metrics"]["hr10"] <= 1.0 and r[key]["seconds"] >= 0
    assert r["federated"]["metrics"]["hr10"] > 2 * r["popularity"]["metrics"]["hr10"]
    dp = r["federated_dp"]
    assert dp["epsilon"] <= 8.0 and dp["delta"] == 1e-5
    assert dp["mechanism"] == "gaussian item statistics" and dp["releases"] == 2
    assert dp["metrics"]["hr10"] > 2 * r["popularity"]["metrics"]["hr10"]
