from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from federation.data.features import CHURN_FEATURES, churn_table, feature_matrix
from federation.models.churn import roc_auc

pytestmark = pytest.mark.unit


def test_labels_and_rfm_from_a_small_log() -> None:
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "ordered_at": ["2026-01-01", "2026-03-01", "2026-06-15", "2026-02-01", "2026-05-01",
                       "2026-07-01"],
        "item_id": ["x", "y", "x", "x", "x", "z"],
        "amount": [10.0, 20.0, 30.0, 5.0, 5.0, 7.0],
    })
    customers = pd.DataFrame({"customer_id": ["a", "b"], "birth_date": ["1990-06-01",
                                                                        "2000-01-01"]})
    t = churn_table(orders, customers, cutoff=date(2026, 5, 31), horizon_days=30).set_index(
        "customer_id")
    assert list(t.index) == ["a", "b"]  # c has no purchase before the cutoff
    assert t.loc["a", "churned"] == 0.0 and t.loc["b", "churned"] == 1.0
    assert t.loc["a", "frequency"] == 2 and t.loc["a", "monetary"] == 30.0
    assert t.loc["b", "recency_days"] == 30 and t.loc["a", "distinct_items"] == 2
    x = feature_matrix(t.reset_index())
    assert x.shape == (2, len(CHURN_FEATURES)) and np.isfinite(x).all()


def test_horizon_must_be_positive() -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        churn_table(pd.DataFrame(columns=["customer_id", "ordered_at", "item_id", "amount"]),
                    pd.DataFrame(), cutoff=date(2026, 1, 1), horizon_days=0)


def test_roc_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.normal(size=200) + y
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]]
    assert roc_auc(y, s) == pytest.approx(np.mean(pairs))
