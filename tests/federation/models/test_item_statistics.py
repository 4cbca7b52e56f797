"""The recommender's DP item side as noisy sums (federation.models.item_statistics): sensitivity,
accounting, the factorization into the model, and the rounds that release it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from federation.brand.local import answer_item_statistics as answer
from federation.coordinator.statistics_round import release_item_side, value_bound
from federation.errors import StatisticsFailed
from federation.models.item_statistics import (
    FLOOR,
    StatisticsPlan,
    item_side,
    noise_share,
    plan_statistics,
    popularity_sum,
    top_items,
    transition_sum,
)
from federation.models.recommend import RecData, evaluate_ranking, fold_in
from federation.settings import STAGE_KEY, STD_KEY, TOP_KEY

pytestmark = pytest.mark.unit


def _walks(users: int, items: int, length: int, seed: int = 0) -> RecData:
    """Each user walks the catalogue in order from a random start."""
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(users), length)
    i = ((rng.integers(0, items, users)[:, None] + np.arange(length)) % items).ravel()
    last = np.r_[u[1:] != u[:-1], True]
    return RecData(users, items, u[~last], i[~last], i[last])


def _without_last_user(d: RecData) -> RecData:
    keep = d.train_u < d.n_users - 1
    return RecData(d.n_users - 1, d.n_items, d.train_u[keep], d.train_i[keep], d.test_i[:-1])


def test_one_customer_moves_each_sum_by_at_most_one() -> None:
    """The sensitivity the accountant assumes: removing a customer (here one with repeats
    of the same transition) changes either release by L2 norm <= 1."""
    d = _walks(30, 12, 40)  # 40 steps over 12 items: the same pairs recur
    fewer = _without_last_user(d)
    top = np.arange(12)
    assert np.linalg.norm(popularity_sum(d) - popularity_sum(fewer)) == pytest.approx(1.0)
    diff = transition_sum(d, top) - transition_sum(fewer, top)
    assert np.linalg.norm(diff) == pytest.approx(1.0)
    part = np.arange(0, 12, 2)  # pairs outside the covered items are dropped, never rescaled up
    assert np.linalg.norm(transition_sum(d, part) - transition_sum(fewer, part)) <= 1.0 + 1e-9


def test_plan_meets_the_target_and_counts_every_attempt() -> None:
    plan = plan_statistics(target_epsilon=8.0, delta=1e-5, n_items=100)
    assert plan.epsilon() == pytest.approx(8.0, abs=0.05) and plan.epsilon() <= 8.0
    assert plan.top == 100 and plan.pop_sigma > plan.pair_sigma
    assert plan.epsilon(attempts=2) > plan.epsilon() + 1
    assert plan_statistics(target_epsilon=3.0, delta=1e-5, n_items=100).pair_sigma \
        > plan.pair_sigma
    report = plan.report(attempts=2)
    assert report["releases"] == 4 and report["privacy_unit"] == "customer"
    with pytest.raises(ValueError, match="epsilon"):
        plan_statistics(target_epsilon=0.0, delta=1e-5, n_items=10)


def test_noise_shares_add_up_to_sigma() -> None:
    share = noise_share(2.0, 5, secure=True)
    assert 5 * share ** 2 == pytest.approx(4.0)  # the sum of all 5 brands: variance sigma^2
    assert noise_share(2.0, 5, secure=False) == 2.0


def test_item_side_scores_are_the_released_transitions() -> None:
    """At full rank, a context item's embedding times an item's is their transition sum;
    popularity orders what the transitions do not cover, below every covered item."""
    rng = np.random.default_rng(1)
    pop = rng.random(10) * 5
    top = top_items(pop, 4)
    pairs = rng.normal(size=16)
    items, context, bias = item_side(pop, pairs, top, dim=8)
    assert items.shape == (10, 8) and context.shape == (11, 8) and bias.shape == (10, 1)
    np.testing.assert_allclose(context[top] @ items[top].T, pairs.reshape(4, 4), atol=1e-5)
    others = np.setdiff1d(np.arange(10), top)
    assert bias[others].max() < bias[top].min() - FLOOR / 2
    assert np.argmax(bias[others, 0]) == np.argmax(pop[others])
    assert not context[10].any()  # the padding row


def test_noiseless_statistics_learn_what_comes_next() -> None:
    d = _walks(80, 30, 8)
    top = top_items(popularity_sum(d), 30)
    weights = item_side(popularity_sum(d), transition_sum(d, top), top, dim=30)
    model = fold_in(weights, d, lr=0.01, seed=0, fit_user_vectors=False)
    first = weights[1][d.train_i[d.train_u == 0]].mean(0)  # computed from history, not fitted
    np.testing.assert_allclose(model.users.weight[0].numpy(), first, atol=1e-5)
    assert not model.users.weight.requires_grad
    assert evaluate_ranking(model, d)["hr10"] > 0.9  # without the context: about 10/23


def test_brand_answers_carry_fresh_noise_of_the_asked_size() -> None:
    d = _walks(20, 12, 6)
    pop_cfg = {STAGE_KEY: "popularity", STD_KEY: 0.5}
    (a,), weight, _ = answer(pop_cfg, d)
    (b,), _, _ = answer(pop_cfg, d)
    assert weight == 1 and a.shape == (12,) and not np.allclose(a, b)
    assert np.abs(a - popularity_sum(d)).max() < 8 * 0.5
    (t,), _, _ = answer({STAGE_KEY: "transitions", STD_KEY: 1e-9, TOP_KEY: "0,3,5"}, d)
    np.testing.assert_allclose(t, transition_sum(d, np.array([0, 3, 5])), atol=1e-6)
    with pytest.raises(ValueError, match="below the 0.5"):  # a coordinator asking too little
        answer(pop_cfg | {STD_KEY: 0.1}, d, min_std=0.5)
    with pytest.raises(ValueError, match="without noise"):
        answer(pop_cfg | {STD_KEY: 0.0}, d)
    assert value_bound(20, 0.5) >= 24 and value_bound(20, 0.5) == 32.0


def test_release_retries_a_halted_sum_and_counts_it() -> None:
    """A fake transport (the real one is Flower's SecAgg+, exercised by the bench and demo
    tests): the first popularity round halts, everything else sums three brands."""
    brands = [_walks(15, 12, 6, seed=s) for s in range(3)]
    calls: list[str] = []

    def sum_fn(config: dict[str, Any], size: int, bound: float) -> np.ndarray | None:
        calls.append(str(config[STAGE_KEY]))
        if calls == ["popularity"]:
            return None
        out = np.sum([answer(config, b)[0][0] for b in brands], axis=0)
        assert out.shape == (size,) and bound >= 15
        return out

    plan = StatisticsPlan(1.0, 1e-5, 6)
    weights, attempts = release_item_side(sum_fn, plan, n_brands=3, secure=True,
                                          max_customers=15, n_items=12, dim=4)
    assert calls == ["popularity", "popularity", "transitions"] and attempts == 2
    assert weights[0].shape == (12, 4) and int((weights[0].any(axis=1)).sum()) <= 6
    with pytest.raises(StatisticsFailed, match="popularity sum did not complete"):
        release_item_side(lambda *_a: None, plan, n_brands=3, secure=True,
                          max_customers=15, n_items=12, dim=4)
