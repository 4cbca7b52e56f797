"""LTV holdout on real transaction logs: BG/NBD + Gamma-Gamma (federation.data.ltv) fitted
on a calibration period, scored on the next period against what each customer actually did,
beside the strongest simple baselines in the same run.

1. CDNOW (the canonical BG/NBD validation log, benchmarks/data/cdnow/, see the README
   there): the customers who first bought in Q1 1997, calibrated on the first 39 weeks
   (1997-01-01 .. 1997-09-30) and predicted for the next 39 (1997-10-01 .. 1998-06-30),
   per customer (repeat transactions and spend: MAE, RMSE) and in aggregate (cumulative
   repeat transactions of the cohort, week by week, as in Fader, Hardie & Lee 2005, Fig. 2);
   on the paper's 1/10 sample (2,357 customers) its fitted parameters are compared to the
   published ones (r 0.243, alpha 4.414 weeks, a 0.793, b 2.426), and on the full set
   (23,570) the same fit is reported (no published figures to compare with there).
   Baselines: predict 0, and each customer's calibration-period rate x horizon (repeat
   transactions, or repeat spend, per day of observed life T; and the same counting the
   first purchase too). A transaction is a purchase day, as in the paper.
2. MovieLens-small read AS IF it were transactions (each user-day with ratings a purchase,
   the ratings' sum its amount): activity volume on a bursty log, not spend; optional.

    nice -n 10 python benchmarks/ltv_bench.py [--cdnow-dir DIR] [--ratings PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from federation.data.ltv import (
    BgNbd,
    bgnbd_loglik,
    customer_ltv,
    fit_ltv,
    ltv_band,
    rfm_summary,
)

CDNOW_DIR = Path(__file__).parent / "data" / "cdnow"
CAL_END = pd.Timestamp("1997-09-30")  # end of week 39 from 1997-01-01
HOLDOUT_DAYS = 273  # 39 weeks: 1997-10-01 .. 1998-06-30
PAPER = {"r": 0.243, "alpha_weeks": 4.414, "a": 0.793, "b": 2.426, "loglik": -9582.4}


def score(p: pd.Series, actual: pd.Series) -> dict[str, float]:
    err = p - actual
    return {"mae": round(float(err.abs().mean()), 4),
            "rmse": round(float(np.sqrt((err ** 2).mean())), 4),
            "total_predicted": round(float(p.sum()), 1),
            "spearman": round(float(p.rank().corr(actual.rank())), 3)}


def read_cdnow(path: Path) -> pd.DataFrame:
    """customer_id, ordered_at, amount from CDNOW_master (with a header row) or CDNOW_sample
    (master id, then sample id, no header)."""
    if "sample" in path.name:
        t = pd.read_csv(path, sep=r"\s+", header=None, dtype={1: str, 2: str},
                        names=["master_id", "customer_id", "date", "cds", "amount"])
    else:
        t = pd.read_csv(path, sep=r"\s+", header=0, dtype={0: str, 1: str},
                        names=["customer_id", "date", "cds", "amount"])
    return pd.DataFrame({"customer_id": t["customer_id"].astype(str),
                         "ordered_at": pd.to_datetime(t["date"], format="%Y%m%d"),
                         "amount": t["amount"].astype(float)})


def cumulative_repeats(orders: pd.DataFrame, model: BgNbd, weeks: int) -> dict[str, object]:
    """The cohort's cumulative repeat transactions by week, actual vs the model's
    unconditional expectation sum_i E[X(t - s_i)] (eq. 7, s_i the first purchase day)."""
    start = orders["ordered_at"].min().normalize()
    days = orders.assign(day=(orders["ordered_at"].dt.normalize() - start).dt.days)
    days = days.drop_duplicates(["customer_id", "day"])
    first = days.groupby("customer_id")["day"].transform("min")
    repeat_day = days.loc[days["day"] > first, "day"].to_numpy()
    firsts = days.groupby("customer_id")["day"].min().value_counts()
    grid = np.arange(1, weeks + 1) * 7
    actual = np.array([(repeat_day < d).sum() for d in grid], dtype=float)
    zero = np.zeros(1)
    predicted = np.array([sum(n * float(model.expected_purchases(d - s, zero, zero, zero)[0])
                              for s, n in firsts.items() if d > s) for d in grid])
    cal = CAL_END.normalize() - start
    w_cal = int((cal.days + 1) // 7)
    hold_a, hold_p = actual[-1] - actual[w_cal - 1], predicted[-1] - predicted[w_cal - 1]
    holdout_weeks = slice(w_cal, weeks)
    ape = np.abs(predicted[holdout_weeks] - actual[holdout_weeks]) / actual[holdout_weeks]
    return {"week_of_calibration_end": w_cal,
            "actual_at_calibration_end": int(actual[w_cal - 1]),
            "predicted_at_calibration_end": round(float(predicted[w_cal - 1]), 1),
            "actual_at_holdout_end": int(actual[-1]),
            "predicted_at_holdout_end": round(float(predicted[-1]), 1),
            "holdout_actual": int(hold_a), "holdout_predicted": round(float(hold_p), 1),
            "holdout_error_pct": round(float(100 * (hold_p - hold_a) / hold_a), 2),
            "holdout_weekly_mape_pct": round(float(100 * ape.mean()), 2),
            "weekly_actual": actual.astype(int).tolist(),
            "weekly_predicted": [round(float(v), 1) for v in predicted]}


def cdnow_holdout(path: Path) -> dict[str, object]:
    orders = read_cdnow(path)
    cal = orders[orders["ordered_at"] <= CAL_END]
    end = CAL_END + pd.Timedelta(days=HOLDOUT_DAYS)
    hold = orders[(orders["ordered_at"] > CAL_END) & (orders["ordered_at"] <= end)]
    t0 = time.perf_counter()
    s = rfm_summary(cal, cutoff=CAL_END)
    model = fit_ltv(s)
    fit_s = time.perf_counter() - t0
    x, t_x, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    n_pred = pd.Series(model.purchases.expected_purchases(HOLDOUT_DAYS, x, t_x, T), s.index)
    spend_pred = n_pred * model.spend.expected_spend(x, s["monetary"].to_numpy())
    hold_days = hold.assign(day=hold["ordered_at"].dt.normalize())
    n_actual = hold_days.groupby("customer_id")["day"].nunique().reindex(s.index, fill_value=0)
    spend_actual = hold.groupby("customer_id")["amount"].sum().reindex(s.index, fill_value=0.0)
    cal_spend = cal.groupby("customer_id")["amount"].sum().reindex(s.index)
    per_day = HOLDOUT_DAYS / s["T"].clip(lower=1)
    zero = pd.Series(0.0, index=s.index)
    baselines_n = {"zero": zero, "rate_repeat": s["frequency"] * per_day,
                   "rate_all": (s["frequency"] + 1) * per_day}
    baselines_spend = {"zero": zero, "rate_repeat": s["frequency"] * s["monetary"] * per_day,
                       "rate_all": cal_spend * per_day}

    def table(name: str, pred: pd.Series, actual: pd.Series, base: dict[str, pd.Series]
              ) -> dict[str, object]:
        scores = {name: score(pred, actual)}
        scores |= {k: score(v, actual) for k, v in base.items()}
        best = min(base, key=lambda k: float(scores[k]["mae"]))
        return {"actual_total": round(float(actual.sum()), 1), "scores": scores,
                "strongest_baseline_by_mae": best}

    p = model.purchases
    ll_weeks = float(bgnbd_loglik(np.array([p.r, p.alpha / 7, p.a, p.b]), x, t_x / 7,
                                  T / 7).sum())
    fitted = {"r": round(p.r, 4), "alpha_weeks": round(p.alpha / 7, 4),
              "alpha_days": round(p.alpha, 3), "a": round(p.a, 4), "b": round(p.b, 4),
              "loglik_weeks": round(ll_weeks, 2),
              "gamma_gamma": {"p": round(model.spend.p, 3), "q": round(model.spend.q, 3),
                              "v": round(model.spend.v, 3)}}
    out: dict[str, object] = {
        "file": path.name, "customers": len(s),
        "calibration": f"1997-01-01..{CAL_END.date()}", "holdout_days": HOLDOUT_DAYS,
        "repeat_transactions_calibration": int(s["frequency"].sum()),
        "fitted": fitted, "fit_seconds": round(fit_s, 2),
        "transactions": table("bgnbd", n_pred, n_actual, baselines_n),
        "spend": table("bgnbd_gamma_gamma", spend_pred, spend_actual, baselines_spend),
        "aggregate_cumulative_repeats": cumulative_repeats(orders[orders["ordered_at"] <= end],
                                                           p, 78),
        "bands": ltv_band(spend_pred).value_counts().to_dict()}
    if "sample" in path.name:
        out["paper"] = PAPER | {"source": "Fader, Hardie & Lee (2005), Marketing Science "
                                "24(2), section 4, the 1/10 CDNOW sample"}
    else:
        out["paper"] = "full set: the paper fit the 1/10 sample; no published fit to compare"
    return out


def movielens_holdout(ratings: Path, cutoffs: str, horizon: int) -> list[dict[str, object]]:
    r = pd.read_csv(ratings)
    orders = pd.DataFrame({"customer_id": r["userId"].astype(str),
                           "ordered_at": pd.to_datetime(r["timestamp"], unit="s"),
                           "amount": r["rating"].astype(float)})
    results: list[dict[str, object]] = []
    for c in cutoffs.split(","):
        cut = pd.Timestamp(c)
        before = orders[orders["ordered_at"] < cut]
        t0 = time.perf_counter()
        pred = customer_ltv(before, cutoff=cut - pd.Timedelta(days=1), horizon_days=horizon)
        fit_s = time.perf_counter() - t0
        end = cut + pd.Timedelta(days=horizon)
        after = orders[(orders["ordered_at"] >= cut) & (orders["ordered_at"] < end)]
        actual = after.groupby("customer_id")["amount"].sum().reindex(pred.index,
                                                                       fill_value=0.0)
        days = before.assign(day=before["ordered_at"].dt.normalize()).groupby(
            "customer_id")["day"].nunique().reindex(pred.index)
        value = before.groupby("customer_id")["amount"].sum().reindex(pred.index) / days
        naive = days / pred["T"].clip(lower=1) * horizon * value
        results.append({"cutoff": c, "customers": len(pred),
                        "actual_total": round(float(actual.sum()), 1),
                        "active_in_holdout": int((actual > 0).sum()),
                        "bgnbd_gamma_gamma": score(pred["ltv"], actual),
                        "naive_rate": score(naive, actual),
                        "zero": score(pd.Series(0.0, index=pred.index), actual),
                        "fit_seconds": round(fit_s, 2),
                        "bands": pred["ltv_band"].value_counts().to_dict()})
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cdnow-dir", type=Path, default=CDNOW_DIR)
    ap.add_argument("--ratings", type=Path,
                    default=Path("../shared/datasets/movielens-small/ratings.csv"))
    ap.add_argument("--cutoffs", default="2015-01-01,2016-01-01,2017-01-01")
    ap.add_argument("--horizon", type=int, default=365)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    out: dict[str, object] = {
        "cdnow": [cdnow_holdout(a.cdnow_dir / f) for f in ("CDNOW_sample.txt.gz",
                                                           "CDNOW_master.txt.gz")],
        "note": "shared 2-core machine, nice -n 10; time in days, alpha also in weeks"}
    if a.ratings.exists():
        out["movielens_as_transactions"] = {
            "data": "MovieLens-small ratings read as transactions (rating sum = amount)",
            "horizon_days": a.horizon,
            "results": movielens_holdout(a.ratings, a.cutoffs, a.horizon)}
    else:
        out["movielens_as_transactions"] = f"skipped: {a.ratings} not on this machine"
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text)


if __name__ == "__main__":
    main()
