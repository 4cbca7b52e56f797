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



def _bench(task: str, data: Path, *args: str, timeout: int = 600
           ) -> subprocess.CompletedProcess[str]:
    """`comity bench TASK --data DATA ARGS...` as a user runs it, in its own process."""
    return subprocess.run([sys.executable, "-m", "api.cli", "bench", task, "--data", str(data),
                           *args], capture_output=True, text=True, timeout=timeout)

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
    proc = _bench("churn", data, "--id-col", "cid", "--label-col", "churned", "--positive",
                  "yes", "--brands", "3", "--rounds", "4", "--epochs", "5", "--seeds", "0",
                  "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["load"]["bad_rows"] == 1 and r["load"]["rows_loaded"] == n
    for key in ("centralized", "local_only", "federated", "federated_dp"):
        assert 0.6 < r[key]["metrics"]["auc"] <= 1.0, (key, r[key])
        assert r[key]["seconds"] >= 0
    assert r["federated_dp"]["epsilon"] <= 3.0 and r["federated_dp"]["delta"] == 1e-5
    assert len(r["local_only"]["brands"]) == 3
    lifts = r["per_brand_lift"]  # each brand's own test rows: federated beside local-only
    assert sorted(lifts) == ["0", "1", "2"]
    assert all(0.0 <= f["auc"]["federated"] <= 1.0 for f in lifts.values())
    assert lifts["0"]["auc"]["local_only"] == round(r["local_only"]["brands"][0]["own_test"]
                                                    ["auc"], 4)
    pooled = r["baselines"]
    for name in ("logistic_regression", "lightgbm"):
        assert 0.6 < pooled[name]["metrics"]["auc"] <= 1.0 and pooled[name]["chosen"]
    assert pooled["recency_rule"]["applicable"] is False  # a customer table has no times
    assert r["strongest_pooled"]["name"] in ("logistic_regression", "lightgbm")
    family = r["family"]  # chosen by federated validation, recorded with its figures
    assert family["candidates"] == ["logistic", "mlp", "trees"]
    assert family["chosen"] == r["federated"]["family"] == max(
        family["validation"], key=lambda f: family["validation"][f]["auc"])
    assert set(family["dp_validation"]) == {"logistic", "mlp"}
    assert r["federated_dp"]["family"] == family["dp_chosen"]


def test_bench_rejects_a_table_without_columns(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text("a,b\n1,2\n")
    proc = _bench("churn", data, "--id-col", "a", "--label-col", "churn", "--json",
                  str(tmp_path / "o.json"), timeout=120)
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
    proc = _bench("recommend", data, "--customer-col", "shopper", "--time-col", "when",
                  "--item-col", "sku", "--time-format", "%Y-%m-%d", "--brands", "3",
                  "--rounds", "15", "--epochs", "15", "--seeds", "0", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["load"]["bad_rows"] == 1 and r["users"] == 240 and r["items"] == 60
    for key in ("centralized", "local_only", "popularity", "federated", "federated_dp"):
        assert 0.0 <= r[key]["metrics"]["hr10"] <= 1.0 and r[key]["seconds"] >= 0
    assert r["federated"]["metrics"]["hr10"] > 2 * r["popularity"]["metrics"]["hr10"]
    assert sorted(r["per_brand_lift"]) == ["0", "1", "2"]
    assert {"hr10", "ndcg10"} == set(r["per_brand_lift"]["0"])
    dp = r["federated_dp"]
    assert dp["epsilon"] <= 8.0 and dp["delta"] == 1e-5
    assert dp["mechanism"] == "gaussian item statistics" and dp["releases"] == 2
    assert dp["metrics"]["hr10"] > 2 * r["popularity"]["metrics"]["hr10"]
    # The family each run serves, chosen by federated validation, with the figures behind
    # the choice; the sequential factorization is a candidate, and under DP it is another
    # release (reported beside, with its own epsilon). A private release is popularity and
    # the low-rank Gram: EASE is its one family.
    family = r["family"]
    assert family["candidates"] == ["blend", "ease", "markov", "sequential"]
    assert family["dp_candidates"] == ["ease"]
    for chosen, validation, out in ((family["chosen"], family["validation"], r["federated"]),
                                    (family["dp_chosen"], family["dp_validation"], dp)):
        assert chosen == out["family"] == max(
            validation, key=lambda f: (validation[f]["hr10"], validation[f]["ndcg10"]))
        assert out["validation"]["hr10"] == validation[chosen]["hr10"]
        assert all(0.0 <= v["hr10"] <= 1.0 for v in validation.values())
    assert r["federated_dp_sequential"]["releases"] == 2
    mia = dp["membership_inference_outsider"]
    assert mia["epsilon"] == dp["epsilon"] and -1.0 <= mia["advantage"] <= 1.0
    assert "low-rank Gram" in mia["attack"]


def test_bench_recommend_on_a_movielens_shaped_csv(tmp_path: Path) -> None:
    """The fresh-install command (no --time-format: epoch seconds are detected; pandas 3
    string ids) over two seeds: the JSON states the protocol and holds the pooled
    baselines, the strongest of them, every figure's interval and each seed's result."""
    rng = np.random.default_rng(11)
    lines = ["userId,movieId,rating,timestamp"]
    for user in range(1, 151):
        start, t = int(rng.integers(1, 80)), 964_982_703 + int(rng.integers(0, 10**7))
        for step in range(10):
            t += 0 if step == 5 else int(rng.integers(60, 86_400))  # one same-time pair
            movie = (start + step) % 80 + 1 if rng.random() < 0.8 else int(rng.integers(1, 81))
            lines.append(f"{user},{movie},{rng.integers(1, 11) / 2},{t}")
    data = tmp_path / "ratings.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bench.json"
    proc = _bench("recommend", data, "--customer-col", "userId", "--time-col", "timestamp",
                  "--item-col", "movieId", "--brands", "3", "--rounds", "3", "--epochs", "4",
                  "--seeds", "0,1", "--json", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["load"]["time_format"] == "epoch seconds" and r["load"]["bad_rows"] == 0
    assert r["protocol"]["seeds"] == [0, 1] and r["seed"] == [0, 1]
    assert {"split", "tie_rule", "score_ties"} <= set(r["protocol"])
    assert set(r["baselines"]) == {"popularity", "item_knn", "ease", "ease_recency",
                                   "markov", "als"}
    for name, b in r["baselines"].items():
        assert 0.0 <= b["metrics"]["hr10"] <= 1.0 and 0.0 <= b["metrics"]["ndcg10"] <= 1.0
        assert b["seconds"] >= 0 and b["peak_memory_mb"] > 0, name
        assert len(r["ci95"]["baselines"][name]["metrics"]["hr10"]) == 2
    strongest = r["strongest_pooled"]
    names = strongest["name"] if isinstance(strongest["name"], list) else [strongest["name"]]
    assert set(names) <= set(r["baselines"])
    assert r["baselines"]["markov"]["metrics"]["hr10"] > 2 * r["popularity"]["metrics"]["hr10"]
    assert len(r["per_seed"]) == 2 and [s["seed"] for s in r["per_seed"]] == [0, 1]
    for key in ("centralized", "federated", "federated_dp"):
        assert "ndcg10" in r[key]["metrics"] and len(r["ci95"][key]["metrics"]["hr10"]) == 2
    assert r["centralized"]["chosen"]["epochs"] in [1, 2, 3, 4] or isinstance(
        r["centralized"]["chosen"]["epochs"], list)
