"""Federated gradient-boosted trees (bagging, `federation.models.churn_trees`): on a small
non-IID synthetic set the bagged federation is close to pooled LightGBM, and the coordinator
screens malformed replies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from federation.coordinator.strategy import append_trees
from federation.models import baselines as bl
from federation.models.churn import roc_auc
from federation.models.churn_trees import (
    TreeParams,
    check_trees,
    empty_model,
    from_array,
    grow,
    predict,
    tree_count,
)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Churn with an interaction and a threshold (what trees see and a line does not)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    logit = 1.5 * (x[:, 0] > 0.3) * (x[:, 1] < 0) + 1.2 * x[:, 2] * x[:, 3] - 0.5 * x[:, 4]
    y = (rng.random(n) < 1 / (1 + np.exp(-(logit - 0.5)))).astype(np.float32)
    return x, y


def test_bagged_trees_come_close_to_pooled_lightgbm() -> None:
    x, y = _data(1500, 0)
    x_test, y_test = _data(1000, 1)
    # non-IID: brands split along a feature, so each sees a different slice of the space
    order = np.argsort(x[:, 4])
    brands = np.array_split(order, 3)
    params = TreeParams()
    model = from_array(empty_model()[0])
    for r in range(25):
        model = append_trees(model, [grow(model, x[b], y[b], params, seed=r) for b in brands])
    assert tree_count(model) == 25 * 3
    federated = roc_auc(y_test, predict(model, x_test))
    pooled = bl.lightgbm(x, y, num_leaves=7, learning_rate=0.05, seed=0, n_estimators=100)
    pooled_auc = roc_auc(y_test, pooled.predict(x_test))
    logistic = roc_auc(y_test, bl.logistic(x, y, c=1.0, seed=0).predict(x_test))
    assert federated >= pooled_auc - 0.03, (federated, pooled_auc)
    assert federated > logistic + 0.03  # the trees learned what a line cannot


def test_a_brand_returns_only_its_new_tree() -> None:
    x, y = _data(400, 2)
    params = TreeParams()
    first = grow(b"", x, y, params, seed=0)
    more = grow(append_trees(first, [grow(first, x, y, params, seed=1)]), x, y, params, seed=2)
    assert tree_count(first) == 1 and tree_count(more) == 1
    assert check_trees(more, max_depth=params.max_depth) is None
    assert tree_count(append_trees(first, [more, more])) == 3


def test_screening_rejects_what_is_not_well_formed_trees() -> None:
    x, y = _data(400, 3)
    trees = grow(b"", x, y, TreeParams(), seed=0)
    assert check_trees(b"{not json", expected=1, max_depth=3) == "not an XGBoost JSON model"
    assert "expected 2" in str(check_trees(trees, expected=2, max_depth=3))
    assert check_trees(trees, max_depth=3) is None
    assert "deeper" in str(check_trees(trees, expected=1, max_depth=1))
    model = json.loads(trees)
    model["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"][0] = (
        float("inf"))
    bad = json.dumps(model).replace("Infinity", "1e999").encode()
    assert "non-finite" in str(check_trees(bad, expected=1, max_depth=3))


def test_parameters_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="eta"):
        TreeParams(eta=0.0)
    with pytest.raises(ValueError, match="max_depth"):
        TreeParams(max_depth=0)
