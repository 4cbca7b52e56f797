"""Co-occurrence recommenders from federated sums (federation.models.cooccurrence): the sums
are the pooled statistics exactly, validation picks the better family, DP sensitivity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.brand.local import answer_item_statistics
from federation.coordinator.cooccurrence_round import choose_by_validation, release_cooccurrence
from federation.models import baselines as bl
from federation.models import cooccurrence as co
from federation.models.item_statistics import popularity_sum, top_items
from federation.models.recommend import RecData
from federation.settings import STAGE_KEY, STD_KEY, TOP_KEY

pytestmark = pytest.mark.unit


def _random_log(rng: np.random.Generator, users: int, items: int) -> RecData:
    """Users with 3..12 distinct items each, in a random order; the last one held out."""
    us, its, test = [], [], []
    for u in range(users):
        seq = rng.choice(items, size=int(rng.integers(3, min(12, items) + 1)), replace=False)
        us += [u] * (len(seq) - 1)
        its += seq[:-1].tolist()
        test.append(int(seq[-1]))
    return RecData(users, items, np.asarray(us, np.int64), np.asarray(its, np.int64),
                   np.asarray(test, np.int64))


def _total(arrays: list[np.ndarray]) -> np.ndarray:
    """What SecAgg+ reveals: the sum of the brands' vectors."""
    return np.asarray(np.sum(arrays, axis=0))


def _partition(data: RecData, brand_of: np.ndarray, k: int) -> list[RecData]:
    return [co.users_subset(data, np.flatnonzero(brand_of == b)) for b in range(k)]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), users=st.integers(4, 40), items=st.integers(3, 30),
       brands=st.integers(1, 5), top=st.integers(1, 30))
def test_federated_sums_equal_the_pooled_statistics(seed: int, users: int, items: int,
                                                    brands: int, top: int) -> None:
    """Without DP the brands' popularity, Gram and transition sums add up to the pooled
    counts, the Gram to the pooled X'X and the transitions to the pooled first-order counts
    the Markov baseline uses, exactly, over any partition of the customers."""
    rng = np.random.default_rng(seed)
    pooled = _random_log(rng, users, items)
    parts = _partition(pooled, rng.integers(0, brands, users), brands)
    pop = _total([popularity_sum(p, scaled=False) for p in parts])
    assert np.array_equal(pop, bl.item_counts(pooled))
    keep = top_items(pop, min(top, items))
    gram = co.gram_from_triangle(_total([co.stage_sum("gram", p, keep, private=False)
                                         for p in parts]), len(keep))
    assert np.array_equal(gram, bl.gram_matrix(bl.interactions_matrix(pooled)[:, keep]))
    trans = _total([co.stage_sum("successions", p, keep, private=False) for p in parts])
    expected = bl.transition_counts(pooled)[keep][:, keep].toarray()
    assert np.array_equal(trans.reshape(len(keep), len(keep)), expected)


def test_the_rounds_release_the_pooled_statistics_exactly() -> None:
    """The coordinator's three sums, answered by the brands' own code, give the pooled
    statistics (rounded back to counts), and EASE on them is the pooled EASE."""
    rng = np.random.default_rng(1)
    pooled = _random_log(rng, 60, 25)
    parts = _partition(pooled, rng.integers(0, 3, 60), 3)

    def sum_fn(config: dict[str, Any], size: int, bound: float) -> np.ndarray:
        answers = [answer_item_statistics(config, p, private=False)[0][0] for p in parts]
        assert all(a.shape == (size,) and np.abs(a).max() <= bound for a in answers)
        return np.sum(answers, axis=0) + rng.uniform(-1e-3, 1e-3, size)  # SecAgg+ rounding

    stats, attempts = release_cooccurrence(sum_fn, None, n_items=25, n_brands=3, secure=True,
                                           max_customers=60)
    assert attempts == 1 and len(stats.top) == 25
    assert np.array_equal(stats.gram, bl.gram_matrix(bl.interactions_matrix(pooled)))
    ease = co.scorer(stats, pooled, {"family": "ease", "lam": 50.0})
    rows = np.arange(pooled.n_users)
    assert np.allclose(ease(rows), bl.ease(pooled, lam=50.0)(rows))


def test_a_brand_refuses_to_release_exact_sums_in_a_private_run() -> None:
    pooled = _random_log(np.random.default_rng(2), 10, 8)
    config = {STAGE_KEY: "gram", STD_KEY: 0.0, TOP_KEY: "0,1,2"}
    with pytest.raises(ValueError, match="without noise"):
        answer_item_statistics(config, pooled, private=True)


def test_one_customer_moves_each_private_sum_by_exactly_one() -> None:
    """The sensitivity the accountant assumes for the Gram under DP, and no slack: the
    released upper triangle of a customer's x x' is scaled to norm 1 (not x x' / n, whose
    triangle is about 1/sqrt(2))."""
    rng = np.random.default_rng(3)
    d = _random_log(rng, 30, 12)
    fewer = co.users_subset(d, np.arange(29))
    top = np.arange(12)
    for stage in co.PRIVATE_STAGES:
        diff = (co.stage_sum(stage, d, top, private=True)
                - co.stage_sum(stage, fewer, top, private=True))
        assert np.linalg.norm(diff) == pytest.approx(1.0)


def test_a_private_run_releases_popularity_and_the_gram_only() -> None:
    """Under DP the plan counts one pair release, and a brand refuses to answer the
    transitions, whose noise the plan does not hold."""
    plan = co.cooccurrence_plan(target_epsilon=8.0, delta=1e-5, n_items=500)
    assert plan.pair_releases == 1 and plan.report()["releases"] == 2
    d = _random_log(np.random.default_rng(2), 10, 8)
    config = {STAGE_KEY: "successions", STD_KEY: 1.0, TOP_KEY: "0,1,2"}
    with pytest.raises(ValueError, match="not released under DP"):
        answer_item_statistics(config, d, private=True)


def _topics(users: int, topics: int, size: int, old: int, new: int, seed: int = 0) -> RecData:
    """Each user buys `old` items of one topic (a block of `size` items), then `new` of
    another; the held-out item is one more of the second."""
    rng = np.random.default_rng(seed)
    us: list[int] = []
    its: list[int] = []
    test: list[int] = []
    for u in range(users):
        a, b = rng.choice(topics, 2, replace=False)
        first = rng.choice(size, old, replace=False) + a * size
        second = rng.choice(size, new + 1, replace=False) + b * size
        us += [u] * (old + new)
        its += first.tolist() + second[:-1].tolist()
        test.append(int(second[-1]))
    return RecData(users, topics * size, np.asarray(us, np.int64), np.asarray(its, np.int64),
                   np.asarray(test, np.int64))


def test_validation_weighs_recent_history_where_the_next_item_follows_it() -> None:
    """Customers move on from an old topic to a new one: EASE over the whole history
    recommends the old topic, EASE over recency-weighted history the new one, and
    federated validation picks a half-life."""
    data = _topics(500, 8, 15, old=6, new=3)
    stats = co.release_of(data, None)
    choice = choose_by_validation(lambda c: co.validate(stats, data, c), stats,
                                  private=False)
    assert choice["validation"]["ease"]["chosen"]["half"] is not None
    flat = co.validate(stats, data, [{**choice["validation"]["ease"]["chosen"],
                                      "half": None}])[0]
    assert choice["validation"]["ease"]["hr10"] > flat["hr10"] + 0.3


def test_a_private_release_keeps_the_gram_components_above_the_noise_edge() -> None:
    """Post-processing at the coordinator: a rank-2 Gram under noise comes back at rank 2,
    closer to the true Gram than the noisy one."""
    rng = np.random.default_rng(6)
    m, sigma = 80, 0.6
    u = rng.normal(size=(m, 2))
    truth = u @ np.diag([60.0, 30.0]) @ u.T / m
    noise = np.triu(rng.normal(0, sigma, (m, m)))
    noisy = truth + noise + np.triu(noise, 1).T
    kept = co.low_rank(noisy, sigma)
    assert np.linalg.matrix_rank(kept, tol=1e-6) == 2
    assert np.linalg.norm(kept - truth) < 0.5 * np.linalg.norm(noisy - truth)
    released = co.private_release(np.ones(m), np.arange(m), noisy[np.triu_indices(m)], sigma)
    assert not released.has_transitions and np.allclose(released.gram, kept)
    again = co.Cooccurrence.from_arrays(released.to_arrays())
    assert np.allclose(again.gram, kept) and not again.has_transitions
    assert [c["family"] for c in co.first_candidates(released, private=True)] == (
        ["ease"] * len(co.EASE_RELATIVE_LAMBDAS) * len(co.RECENCY_HALVES))


def _successors(users: int, items: int, pairs: int, seed: int = 0) -> RecData:
    """Each user buys `pairs` random items each followed by its successor under one fixed
    permutation, then one more random item; the held-out item is that one's successor. The
    last item alone says what comes next (transitions see it); co-occurrence mixes it with
    every other item of the history (EASE cannot tell it apart)."""
    rng = np.random.default_rng(seed)
    succ = rng.permutation(items)
    us: list[int] = []
    its: list[int] = []
    test: list[int] = []
    for _ in range(users):
        firsts = rng.choice(items, size=pairs + 1, replace=False)
        seq = list(dict.fromkeys(
            [x for f in firsts[:-1] for x in (int(f), int(succ[f]))] + [int(firsts[-1])]))
        if int(succ[firsts[-1]]) in seq:
            continue
        us += [len(test)] * len(seq)
        its += seq
        test.append(int(succ[firsts[-1]]))
    return RecData(len(test), items, np.asarray(us, np.int64), np.asarray(its, np.int64),
                   np.asarray(test, np.int64))


def test_federated_validation_picks_the_better_family() -> None:
    """Where the last item says what comes next, transitions predict it and EASE over the
    flat history cannot (EASE over recency-weighted history nearly can): the federation's
    validation (the brands' figures averaged by customers) picks the family with the best
    figures, and says which figures it chose on."""
    data = _successors(400, 200, 10)
    parts = _partition(data, np.arange(data.n_users) % 3, 3)
    pop = _total([popularity_sum(p, scaled=False) for p in parts])
    top = top_items(pop, 200)
    stats = co.Cooccurrence.from_arrays([
        pop, top, _total([co.stage_sum("gram", p, top, private=False) for p in parts]),
        _total([co.stage_sum("successions", p, top, private=False) for p in parts])])

    def federated(cands: list[co.Candidate]) -> list[dict[str, float]]:
        per = [co.validate(stats, p, cands) for p in parts]
        w = np.asarray([p.n_users for p in parts], float)
        return [{k: float(np.average([f[c][k] for f in per], weights=w))
                 for k in ("hr10", "ndcg10")} for c in range(len(cands))]

    choice = choose_by_validation(federated, stats, private=False)
    v = choice["validation"]
    assert set(v) == {"ease", "markov", "blend"}
    flat = federated([{**v["ease"]["chosen"], "half": None}])[0]
    assert v["markov"]["hr10"] > flat["hr10"] + 0.2
    assert v["ease"]["hr10"] > flat["hr10"] + 0.2
    assert v[choice["family"]]["hr10"] == max(f["hr10"] for f in v.values())
    assert choice["chosen"]["family"] == choice["family"]


def test_choose_takes_the_best_validation_and_breaks_ties_on_ndcg() -> None:
    assert co.choose({"ease": {"hr10": 0.2, "ndcg10": 0.1},
                      "markov": {"hr10": 0.1, "ndcg10": 0.3}}) == "ease"
    assert co.choose({"ease": {"hr10": 0.2, "ndcg10": 0.1},
                      "sequential": {"hr10": 0.2, "ndcg10": 0.2},
                      "blend": {"hr10": float("nan"), "ndcg10": 0.9}}) == "sequential"


def test_top_size_follows_catalogue_and_memory() -> None:
    assert co.top_size(50, private=False) == 50
    assert co.top_size(10**6, private=False) == co.MAX_ITEMS
    assert co.top_size(10**6, private=True) == co.DP_TOP_ITEMS
    assert co.top_size(10**6, private=False, memory_mb=1) < 200


def test_outsider_attack_finds_members_of_an_exact_release_and_not_of_a_private_one(
) -> None:
    """Without DP the released Gram gives members away; with noise at a small epsilon the
    outsider's advantage stays near zero (at epsilon 8 it does not: see the bench)."""
    from federation.models.item_statistics import plan_statistics

    data = _random_log(np.random.default_rng(4), 300, 60)
    members, outsiders = co.membership_attack(data, private=False, plan=None, seed=0)
    assert members.mean() > outsiders.mean() + 0.5
    plan = plan_statistics(target_epsilon=0.5, delta=1e-5, n_items=60, top=60,
                           pair_releases=1)
    members, outsiders = co.membership_attack(
        data, private=True, plan=plan, seed=0,
        noise=lambda v, s: v + np.random.default_rng(5).normal(0, s, v.shape))
    gap = abs(members.mean() - outsiders.mean()) / np.r_[members, outsiders].std()
    assert gap < 0.5
