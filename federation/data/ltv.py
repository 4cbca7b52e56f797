"""Customer lifetime value at the brand: BG/NBD for how often a customer will buy and
Gamma-Gamma for how much, both fitted by maximum likelihood with scipy (pure, no I/O).

- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
  to the Pareto/NBD Model", Marketing Science 24(2):275-284 — likelihood eq. (6), expected
  purchases in (T, T+t] given (x, t_x, T) eq. (10).
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for
  Customer Base Analysis", J. Marketing Research 42(4):415-430, after Colombo & Jiang (1999);
  conditional expected spend per transaction, and the note "The Gamma-Gamma Model of
  Monetary Value" (Fader & Hardie 2013), eq. (5).

Why not a library: `lifetimes` (0.11.3, July 2020) implements exactly these models but is
unmaintained (archived; it breaks on current pandas/numpy), and `pymc-marketing` brings
PyMC and PyTensor (a compiler toolchain, hundreds of MB) into the brand node for what is a
four- and a three-parameter closed-form likelihood. These ~150 lines are checked against
data simulated from the models themselves (tests recover the parameters), against the
papers' published fits on the CDNOW sample (tests/federation/data/test_ltv.py), and scored
on CDNOW's 39-week holdout (benchmarks/ltv_bench.py).

Units: time in days throughout. `frequency` counts repeat purchases (purchase days after the
first), `recency` is the age at the last purchase, `T` the age at the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

# Fixed, data-independent LTV bands (the same at every brand, as the RFM tiers), in the
# brands' currency units over the horizon.
LTV_BANDS = ("none", "low", "medium", "high", "unknown")  # unknown: too few to fit
LTV_BAND_EDGES = (1.0, 200.0, 1000.0)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def expected_purchases(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                           ) -> np.ndarray:
        """Expected purchases in the next `t` days for customers with (x, t_x, T), eq. (10).
        With x = t_x = T = 0 it is the unconditional E[X(t)] of a new customer, eq. (7).

        Eq. (10) holds for a < 1 as for a > 1 (the paper's CDNOW fit has a = 0.793); at
        a = 1 it is 0/0, so near it the mean of a = 1 -+ 1e-4 stands for the limit."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        if abs(self.a - 1) < 5e-5:
            lo, hi = (BgNbd(self.r, self.alpha, a, self.b) for a in (1 - 1e-4, 1 + 1e-4))
            return (lo.expected_purchases(t, x, t_x, T) + hi.expected_purchases(t, x, t_x, T)) / 2
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x,
                                                                       a + b + x - 1, z)
        alive = 1 + (x > 0) * (a / np.maximum(b + x - 1, 1e-12)) * \
            ((alpha + T) / (alpha + t_x)) ** (r + x)
        return np.asarray(head * body / alive)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float

    def expected_spend(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Expected spend per transaction given x repeat purchases of mean value m; a
        customer with none gets the population mean p v / (q - 1)."""
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        out = self.p * (self.v + x * m) / (self.p * x + self.q - 1)
        return np.where(x > 0, out, self.p * self.v / (self.q - 1))


def bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                 ) -> np.ndarray:
    """Per-customer log-likelihood, eq. (6), in logs for stability."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, penalizer: float = 0.0
              ) -> BgNbd:
    """Maximum likelihood over log-parameters (L-BFGS-B), with a small L2 penalty on the
    parameters where asked (`lifetimes` has the same option; 0 by default, as there)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < 10 or np.any(t_x > T) or np.any(x < 0):
        raise ValueError("need at least 10 customers with 0 <= recency <= T")
    scale = float(np.mean(T)) or 1.0

    def nll(theta: np.ndarray) -> float:
        p = np.exp(theta)
        return float(-bgnbd_loglik(p, x, t_x, T).sum() / len(x) + penalizer * (p ** 2).sum())

    start = np.log([1.0, scale / 10, 1.0, 1.0])
    res = minimize(nll, start, method="L-BFGS-B", bounds=[(-10, 10)] * 4)
    r, alpha, a, b = np.exp(res.x)
    return BgNbd(float(r), float(alpha), float(a), float(b))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray, penalizer: float = 0.0) -> GammaGamma:
    """Maximum likelihood on customers with repeat purchases; `q > 1` so that the mean
    spend exists."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < 10:
        raise ValueError("need at least 10 customers with repeat purchases of positive value")

    def nll(theta: np.ndarray) -> float:
        p, q, v = np.exp(theta)
        ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
              + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
        return float(-ll.sum() / len(x) + penalizer * (np.exp(theta) ** 2).sum())

    res = minimize(nll, np.log([1.0, 2.0, float(np.mean(m))]), method="L-BFGS-B",
                   bounds=[(-10, 10), (np.log(1.0 + 1e-3), 10), (-10, 15)])
    p, q, v = np.exp(res.x)
    return GammaGamma(float(p), float(q), float(v))


def rfm_summary(orders: pd.DataFrame, *, cutoff: date | pd.Timestamp,
                customer_col: str = "customer_id", time_col: str = "ordered_at",
                amount_col: str = "amount") -> pd.DataFrame:
    """Per customer from orders up to `cutoff`: frequency (repeat purchase days), recency
    and T in days, monetary (mean value of the repeat purchase days, 0 without any)."""
    o = orders[[customer_col, time_col, amount_col]].copy()
    o["day"] = pd.to_datetime(o[time_col]).dt.normalize()
    end = pd.Timestamp(cutoff)
    o = o[o["day"] <= end]
    daily = o.groupby([customer_col, "day"], as_index=False)[amount_col].sum()
    g = daily.sort_values("day").groupby(customer_col)
    first, last = g["day"].min(), g["day"].max()
    n_days = g.size()
    total, first_amount = g[amount_col].sum(), g[amount_col].first()
    freq = (n_days - 1).astype(float)
    out = pd.DataFrame({
        "frequency": freq,
        "recency": (last - first).dt.days.astype(float),
        "T": (end - first).dt.days.astype(float),
        "monetary": np.where(freq > 0, (total - first_amount) / freq.where(freq > 0, 1), 0.0),
    })
    out.index.name = customer_col
    return out


@dataclass(frozen=True)
class LtvModel:
    purchases: BgNbd
    spend: GammaGamma

    def predict(self, summary: pd.DataFrame, horizon_days: float) -> pd.Series:
        """Expected spend over the next `horizon_days` (undiscounted)."""
        n = self.purchases.expected_purchases(horizon_days, summary["frequency"].to_numpy(),
                                              summary["recency"].to_numpy(),
                                              summary["T"].to_numpy())
        m = self.spend.expected_spend(summary["frequency"].to_numpy(),
                                      summary["monetary"].to_numpy())
        return pd.Series(n * m, index=summary.index, name="ltv")


def fit_ltv(summary: pd.DataFrame) -> LtvModel:
    x, t_x, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    return LtvModel(fit_bgnbd(x, t_x, T), fit_gamma_gamma(x, summary["monetary"].to_numpy()))


def ltv_band(ltv: pd.Series) -> pd.Series:
    """Fixed bands (LTV_BAND_EDGES), the same at every brand."""
    idx = np.searchsorted(np.asarray(LTV_BAND_EDGES), ltv.to_numpy(dtype=float), side="right")
    return pd.Series(np.asarray(LTV_BANDS)[idx], index=ltv.index, name="ltv_band")


def customer_ltv(orders: pd.DataFrame, *, cutoff: date | pd.Timestamp, horizon_days: float,
                 customer_col: str = "customer_id", time_col: str = "ordered_at",
                 amount_col: str = "amount") -> pd.DataFrame:
    """Per customer at the brand: the RFM summary, the predicted LTV over the horizon and
    its band; fitted on the brand's own orders up to `cutoff` (nothing leaves the brand)."""
    s = rfm_summary(orders, cutoff=cutoff, customer_col=customer_col, time_col=time_col,
                    amount_col=amount_col)
    s["ltv"] = fit_ltv(s).predict(s, horizon_days)
    s["ltv_band"] = ltv_band(s["ltv"])
    return s


def with_ltv_band(segments: pd.DataFrame, orders: pd.DataFrame, *,
                  cutoff: date | pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """`segments` (one row per customer_id) with an `ltv_band` column for DP aggregates,
    from the brand's own orders (customer_id, ordered_at, amount). A brand with too few
    customers to fit gets `unknown` for all."""
    try:
        ltv = customer_ltv(orders, cutoff=cutoff, horizon_days=horizon_days)["ltv_band"]
    except ValueError:
        ltv = pd.Series(dtype=str)
    band = segments["customer_id"].map(ltv).fillna("unknown").astype(str)
    return segments.assign(ltv_band=band.to_numpy())


def with_ltv_feature(table: pd.DataFrame, orders: pd.DataFrame, *,
                     cutoff: date | pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """The churn table with `ltv_log` = log1p(predicted LTV over the horizon), a feature
    the churn model may use (fitted on orders up to the cutoff only: no label leakage)."""
    try:
        ltv = customer_ltv(orders, cutoff=cutoff, horizon_days=horizon_days)["ltv"]
    except ValueError:
        ltv = pd.Series(dtype=float)
    value = table["customer_id"].map(ltv).fillna(0.0).astype(float).clip(lower=0)
    return table.assign(ltv_log=np.log1p(value.to_numpy()))
