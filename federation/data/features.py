"""Churn features from a transaction log. Pure pandas; the same code runs at every brand.

Label: churned = no purchase in (cutoff, cutoff + horizon] among customers active
before the cutoff (the source documents measure churn as no repurchase in a window).
Features are RFM (Hughes, "Strategic Database Marketing", 1994) plus tenure, trend and
basket diversity, each log-scaled so that brands with different volumes share one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

FEATURE_VERSION = "churn-features/1"
CHURN_FEATURES = (
    "recency_days", "frequency", "monetary", "avg_amount", "tenure_days", "distinct_items",
    "orders_last_90d", "orders_prev_90d", "mean_gap_days", "age_years",
)
# Optional: log1p of the customer's predicted spend over the churn horizon (BG/NBD +
# Gamma-Gamma fitted at the brand on its own orders up to the cutoff,
# `federation.data.ltv.with_ltv_feature`); a run opts in with `RunSettings.ltv_feature`.
LTV_FEATURE = "ltv_log"
_ALREADY_LOG = frozenset({LTV_FEATURE})


def churn_features(ltv: bool = False) -> tuple[str, ...]:
    """The churn model's input columns, in order: every brand of a run uses the same."""
    return CHURN_FEATURES + ((LTV_FEATURE,) if ltv else ())


def churn_table(orders: pd.DataFrame, customers: pd.DataFrame, *, cutoff: date,
                horizon_days: int) -> pd.DataFrame:
    """One row per customer with a purchase before the cutoff: features + `churned` label.

    `orders` needs customer_id, ordered_at, item_id, amount; `customers` needs customer_id
    and, optionally, birth_date (minimum necessary: only the age in years is derived).
    """
    if horizon_days <= 0:
        raise ValueError("horizon_days must be positive")
    o = orders.assign(ordered_at=pd.to_datetime(orders["ordered_at"]))
    cut = pd.Timestamp(cutoff)
    end = cut + pd.Timedelta(days=horizon_days)
    before = o[o["ordered_at"] <= cut]
    after = o[(o["ordered_at"] > cut) & (o["ordered_at"] <= end)]
    g = before.groupby("customer_id")
    first, last = g["ordered_at"].min(), g["ordered_at"].max()
    n = g.size()
    recent_mask = before["ordered_at"] > cut - pd.Timedelta(days=90)
    recent = before[recent_mask].groupby("customer_id").size()
    prev_mask = (before["ordered_at"] > cut - pd.Timedelta(days=180)) & (
        before["ordered_at"] <= cut - pd.Timedelta(days=90))
    prev = before[prev_mask].groupby("customer_id").size()
    span = (last - first).dt.days
    t = pd.DataFrame({
        "recency_days": (cut - last).dt.days,
        "frequency": n,
        "monetary": g["amount"].sum(),
        "avg_amount": g["amount"].mean(),
        "tenure_days": (cut - first).dt.days,
        "distinct_items": g["item_id"].nunique(),
        "orders_last_90d": recent.reindex(n.index, fill_value=0),
        "orders_prev_90d": prev.reindex(n.index, fill_value=0),
        "mean_gap_days": (span / (n - 1).where(n > 1)).fillna(span.max() if len(span) else 0),
    })
    if "birth_date" in customers.columns:
        born = pd.to_datetime(customers.set_index("customer_id")["birth_date"], errors="coerce")
        t["age_years"] = ((cut - born).dt.days / 365.25).reindex(t.index).fillna(35.0)
    else:
        t["age_years"] = 35.0
    t["churned"] = (~t.index.isin(after["customer_id"].unique())).astype(np.float32)
    t.index.name = "customer_id"
    return t.reset_index()


def feature_matrix(table: pd.DataFrame, features: Sequence[str] = CHURN_FEATURES
                   ) -> np.ndarray:
    """Fixed, data-independent scaling: log1p (unless the column is already a log) then a
    constant divisor per feature, so no statistics of one brand's data are needed to score
    another's."""
    raw = table[list(features)].clip(lower=0).to_numpy(dtype=np.float64)
    log = np.array([f in _ALREADY_LOG for f in features], dtype=bool)
    x = np.where(log, raw, np.log1p(raw))
    return ((x - 2.0) / 2.0).astype(np.float32)


RFM_TIERS = ("high_value", "active", "at_risk", "dormant")
CHURN_STATUS = ("churned", "retained")


def rfm_tier(recency_days: pd.Series, frequency: pd.Series) -> pd.Series:
    """Fixed rules, the same at every brand (no thresholds learned from one brand's data):
    dormant after 180 days without a purchase, at risk after 90, high value with 5+ orders."""
    tier = np.where(recency_days > 180, "dormant",
                    np.where(recency_days > 90, "at_risk",
                             np.where(frequency >= 5, "high_value", "active")))
    return pd.Series(tier, index=recency_days.index)


def segment_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per customer of a churn table: the segments internal services ask about."""
    return pd.DataFrame({
        "customer_id": table["customer_id"],
        "rfm_tier": rfm_tier(table["recency_days"], table["frequency"]),
        "churn": np.where(table["churned"] > 0.5, "churned", "retained"),
        "spend": table["monetary"].astype(float),
        "orders": table["frequency"].astype(int),
    })
