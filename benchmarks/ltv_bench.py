"""LTV holdout on a real transaction log: BG/NBD + Gamma-Gamma (federation.data.ltv) fitted
on the calibration period, scored on the next `horizon` days against what each customer
actually spent, beside the naive rate baseline (past purchase days per day x horizon x past
mean value).

The log is MovieLens-small read AS IF it were transactions: each (user, day with ratings)
is a purchase day and the ratings' sum its amount. MovieLens has no money: the figures say
how well the models predict repeat activity and its volume on a real, bursty log, not spend.

    nice -n 10 python benchmarks/ltv_bench.py [--ratings PATH/ratings.csv] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from federation.data.ltv import customer_ltv


def score(p: pd.Series, actual: pd.Series) -> dict[str, float]:
    err = p - actual
    return {"mae": round(float(err.abs().mean()), 2),
            "rmse": round(float(np.sqrt((err ** 2).mean())), 2),
            "total_predicted": round(float(p.sum()), 1),
            "spearman": round(float(p.rank().corr(actual.rank())), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratings", type=Path,
                    default=Path("../shared/datasets/movielens-small/ratings.csv"))
    ap.add_argument("--cutoffs", default="2015-01-01,2016-01-01,2017-01-01")
    ap.add_argument("--horizon", type=int, default=365)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    r = pd.read_csv(a.ratings)
    orders = pd.DataFrame({"customer_id": r["userId"].astype(str),
                           "ordered_at": pd.to_datetime(r["timestamp"], unit="s"),
                           "amount": r["rating"].astype(float)})
    results = []
    for c in a.cutoffs.split(","):
        cut = pd.Timestamp(c)
        before = orders[orders["ordered_at"] < cut]
        t0 = time.perf_counter()
        pred = customer_ltv(before, cutoff=cut - pd.Timedelta(days=1), horizon_days=a.horizon)
        fit_s = time.perf_counter() - t0
        end = cut + pd.Timedelta(days=a.horizon)
        after = orders[(orders["ordered_at"] >= cut) & (orders["ordered_at"] < end)]
        actual = after.groupby("customer_id")["amount"].sum().reindex(pred.index,
                                                                       fill_value=0.0)
        days = before.assign(day=before["ordered_at"].dt.normalize()).groupby(
            "customer_id")["day"].nunique().reindex(pred.index)
        value = before.groupby("customer_id")["amount"].sum().reindex(pred.index) / days
        naive = days / pred["T"].clip(lower=1) * a.horizon * value
        results.append({"cutoff": c, "customers": len(pred),
                        "actual_total": round(float(actual.sum()), 1),
                        "active_in_holdout": int((actual > 0).sum()),
                        "bgnbd_gamma_gamma": score(pred["ltv"], actual),
                        "naive_rate": score(naive, actual),
                        "zero": score(pd.Series(0.0, index=pred.index), actual),
                        "fit_seconds": round(fit_s, 2),
                        "bands": pred["ltv_band"].value_counts().to_dict()})
    out = {"data": "MovieLens-small ratings read as transactions (rating sum = amount)",
           "horizon_days": a.horizon, "note": "shared 2-core machine, nice -n 10",
           "results": results}
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text)


if __name__ == "__main__":
    main()
