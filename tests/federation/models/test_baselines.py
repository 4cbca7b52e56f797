"""Each pooled baseline on a tiny case where the right answer is known (issue 20)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from federation.bench.pooled import _strongest, recommendation_baselines
from federation.models import baselines as bl
from federation.models.recommend import RecData, rank_metrics

pytestmark = pytest.mark.unit


def _data(histories: list[list[int]], n_items: int) -> RecData:
    """Each history's last item held out, the rest trained on."""
    u = np.concatenate([[k] * (len(h) - 1) for k, h in enumerate(histories)]).astype(np.int64)
    i = np.concatenate([h[:-1] for h in histories]).astype(np.int64)
    return RecData(len(histories), n_items, u, i, np.asarray([h[-1] for h in histories]))


def _walk(users: int = 120, items: int = 40, steps: int = 6, seed: int = 0) -> RecData:
    """Users walk the catalogue in order from a random start: what comes next is exactly
    the item after the last one."""
    rng = np.random.default_rng(seed)
    return _data([[(s + k) % items for k in range(steps)]
                  for s in rng.integers(0, items, users)], items)


def _clusters(users: int = 80, per: int = 20, bought: int = 6, seed: int = 0) -> RecData:
    """Two groups of `per` items; each user buys only within their group."""
    rng = np.random.default_rng(seed)
    return _data([list(rng.choice(per, bought, replace=False) + per * (u % 2))
                  for u in range(users)], 2 * per)


def test_markov_predicts_a_catalogue_walk_exactly() -> None:
    d = _walk()
    assert bl.score_ranking(bl.markov(d, window=1, decay=1.0, prior=1e-6), d) == {
        "hr10": 1.0, "ndcg10": 1.0}
    assert bl.score_ranking(bl.popularity(d), d)["hr10"] < 0.5


@pytest.mark.parametrize("name", ["item_knn", "ease", "als"])
def test_neighbourhood_and_factor_models_keep_to_the_users_own_group(name: str) -> None:
    d = _clusters()
    scorer = {"item_knn": lambda: bl.item_knn(d, neighbours=10),
              "ease": lambda: bl.ease(d, lam=10.0),
              "als": lambda: bl.als(d, factors=2, regularization=0.01, alpha=10.0,
                                    iterations=20, seed=0)}[name]()  # rank 2: two groups
    scores = scorer(np.arange(d.n_users)).copy()
    scores[d.train_u, d.train_i] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :10]
    own = (top // 20) == (np.arange(d.n_users) % 2)[:, None]
    assert own.mean() >= 0.95
    assert bl.score_ranking(scorer, d)["hr10"] >= 0.5  # 10 of the 15 unseen in-group items


def test_ease_grid_is_the_closed_form() -> None:
    """B = I - P / diag(P), P = (X'X + lambda I)^-1, zero diagonal (Steck, 2019)."""
    d = _clusters(users=30, per=6, bought=3)
    x = bl.interactions_matrix(d).toarray()
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(d.n_items))
    b = np.eye(d.n_items) - p / np.diag(p)[None, :]
    rows = np.arange(d.n_users)
    np.testing.assert_allclose(bl.ease(d, lam=7.0)(rows), x @ b, atol=1e-8)


def test_items_outside_the_top_score_below_it_by_popularity() -> None:
    d = _clusters(users=40, per=10, bought=4)
    scores = bl.item_knn(d, neighbours=None, max_items=5)(np.arange(3))
    counts = bl.item_counts(d)
    top = np.sort(np.argsort(-counts, kind="stable")[:5])
    rest = np.setdiff1d(np.arange(d.n_items), top)
    assert (scores[:, rest].max(1) < scores[:, top].min(1)).all()


def test_batched_scoring_equals_the_full_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    d = _clusters()
    scorer = bl.ease(d, lam=50.0)
    monkeypatch.setattr(bl, "SCORE_BATCH", 7)
    assert bl.score_ranking(scorer, d) == rank_metrics(scorer(np.arange(d.n_users)), d)


def test_recommendation_baselines_choose_on_validation() -> None:
    out = recommendation_baselines(_walk(seed=1), _walk(seed=2), seed=0)
    assert set(out["baselines"]) == {"popularity", "item_knn", "ease", "ease_recency",
                                     "markov", "als"}
    markov = out["baselines"]["markov"]
    assert markov["chosen"]["window"] == 1 and markov["metrics"]["hr10"] == 1.0
    assert markov["seconds"] >= 0 and markov["peak_memory_mb"] >= markov["memory_growth_mb"] >= 0
    assert out["strongest_pooled"]["validation"]["hr10"] == 1.0


def test_strongest_pooled_is_chosen_on_validation_not_test() -> None:
    baselines: dict[str, dict[str, Any]] = {
        "a": {"metrics": {"auc": 0.6}, "validation": {"auc": 0.9}, "chosen": {}},
                 "b": {"metrics": {"auc": 0.95}, "validation": {"auc": 0.8}, "chosen": {}},
                 "rule": {"applicable": False}}
    assert _strongest(baselines, ("auc",))["name"] == "a"


def _xor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, ((x[:, 0] * x[:, 1]) > 0).astype(np.float32)


def test_lightgbm_learns_an_interaction_logistic_regression_cannot() -> None:
    from federation.models.churn import roc_auc

    x, y = _xor(600, 0)
    xv, yv = _xor(300, 1)
    trees = bl.lightgbm(x, y, num_leaves=7, learning_rate=0.1, seed=0, x_val=xv, y_val=yv)
    assert roc_auc(yv, trees.predict(xv)) > 0.9 and trees.chosen["n_estimators"] >= 1
    assert roc_auc(yv, bl.logistic(x, y, c=1.0, seed=0).predict(xv)) < 0.7


def test_logistic_regression_and_the_recency_rule_on_separable_cases() -> None:
    from federation.models.churn import roc_auc

    rng = np.random.default_rng(0)
    recency = rng.uniform(0, 200, 400)
    y = (recency > 90).astype(np.float32)  # churners are the ones long gone
    assert roc_auc(y, bl.recency_rule(recency, direction=1)) == 1.0
    assert roc_auc(y, bl.recency_rule(recency, direction=-1)) == 0.0
    x = (recency[:, None] / 100).astype(np.float32)
    assert roc_auc(y, bl.logistic(x, y, c=10.0, seed=0).predict(x)) == 1.0


def _drift(users: int = 300, groups: int = 4, per: int = 30, bought: int = 5,
           seed: int = 0) -> RecData:
    """Each user buys `bought` items of one group, then `bought` of another, and next buys
    from the second: what comes next follows the recent history, not the whole of it."""
    rng = np.random.default_rng(seed)
    histories = []
    for _ in range(users):
        a, b = rng.choice(groups, 2, replace=False)
        items = rng.choice(per, 2 * bought + 1, replace=False)
        histories.append([int(a * per + x) for x in items[:bought]]
                         + [int(b * per + x) for x in items[bought:]])
    return _data(histories, groups * per)


def test_recency_weighted_ease_follows_a_drifting_taste_and_equals_ease_without_it() -> None:
    d = _drift()
    grid = bl.ease_recency_grid(d, [10.0], [None, 1.0])
    rows = np.arange(d.n_users)
    np.testing.assert_allclose(grid[(10.0, None)](rows), bl.ease(d, lam=10.0)(rows))
    plain = bl.score_ranking(grid[(10.0, None)], d)["hr10"]
    recent = bl.score_ranking(grid[(10.0, 1.0)], d)["hr10"]
    assert recent > plain + 0.05, (recent, plain)
