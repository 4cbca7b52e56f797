"""Pure parts of federated training: federated encoder fit, partitions, DP accounting,
FedProx, ranking metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from federation.bench.partition import dirichlet_split, stratified_split
from federation.coordinator.planning import plan_private_training
from federation.data.interactions import leave_last_out
from federation.data.tabular import TableSummary, TabularEncoder, summarize
from federation.errors import FederationError
from federation.gate.report import GateReport
from federation.models.churn import build_model, get_weights, train_local
from federation.models.dpsgd import plan_dp, train_dp
from federation.models.recommend import (
    CONTEXT,
    RecData,
    build_recommender,
    evaluate_ranking,
    rank_metrics,
    train_recommender,
)
from federation.settings import RunSettings

pytestmark = pytest.mark.unit


def test_federated_encoder_fit_equals_pooled_fit() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"spend": rng.normal(50, 10, 300).round(2).astype(str),
                          "plan": rng.choice(["a", "b", "c"], 300)})
    parts = [frame.iloc[:100], frame.iloc[100:180], frame.iloc[180:]]
    merged = TableSummary()
    for p in parts:
        merged = merged.merge(summarize(p, ["spend", "plan"]))
    fed, pooled = TabularEncoder.fit(merged), TabularEncoder.fit(summarize(frame, ["spend",
                                                                                   "plan"]))
    assert fed.categorical == pooled.categorical == (("plan", ("a", "b", "c")),)
    assert np.allclose([m for _, m, _ in fed.numeric], [m for _, m, _ in pooled.numeric])
    x = fed.encode(frame)
    assert x.shape == (300, 4)
    assert abs(float(x[:, 0].mean())) < 1e-5 and abs(float(x[:, 0].std()) - 1) < 1e-3


def test_dirichlet_split_is_a_seeded_partition_with_label_skew() -> None:
    labels = np.r_[np.zeros(700, int), np.ones(300, int)]
    a = dirichlet_split(labels, 5, alpha=0.3, seed=1)
    b = dirichlet_split(labels, 5, alpha=0.3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    allidx = np.sort(np.concatenate(a))
    assert np.array_equal(allidx, np.arange(1000))
    shares = [labels[p].mean() for p in a]
    assert max(shares) - min(shares) > 0.3
    tr, te = stratified_split(labels, 0.2, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(te) == 200 and labels[te].mean() == 0.3


def test_dp_plan_meets_epsilon_and_training_moves_weights() -> None:
    plan = plan_dp(n_examples=400, batch_size=40, local_epochs=1, rounds=5,
                   target_epsilon=3.0, delta=1e-5, clip=1.0)
    assert 2.9 <= plan.epsilon() <= 3.0
    assert plan.epsilon(plan.total_steps // 5) < plan.epsilon()
    with pytest.raises(ValueError, match="delta"):
        plan_dp(n_examples=400, batch_size=40, local_epochs=1, rounds=5,
                target_epsilon=3.0, delta=0.01, clip=1.0)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(400, 3)).astype(np.float32))
    y = (x[:, 0] > 0).float()
    model = build_model(3, "logistic")
    before = get_weights(model)
    loss = train_dp(model, (x, y), lambda m, b: torch.nn.functional
                    .binary_cross_entropy_with_logits(m(b[0]).squeeze(-1), b[1]),
                    plan=plan, lr=0.5, seed=0)
    assert np.isfinite(loss)
    assert not np.allclose(before[0], get_weights(model)[0])


def test_fedprox_term_keeps_weights_near_the_round_start() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 1] > 0).astype(np.float32)
    moved = []
    for mu in (0.0, 10.0):
        torch.manual_seed(0)
        m = build_model(4, "logistic")
        start = get_weights(m)[0].copy()
        train_local(m, x, y, epochs=5, lr=0.05, batch_size=32, seed=0, proximal_mu=mu)
        moved.append(float(np.abs(get_weights(m)[0] - start).sum()))
    assert moved[1] < moved[0] / 2


def test_leave_last_out_and_full_ranking_metrics() -> None:
    log = pd.DataFrame({"customer_id": ["u1", "u1", "u1", "u2", "u2", "u3"],
                        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02",
                                                      "2024-01-01", "2024-01-02",
                                                      "2024-01-01"]),
                        "item_id": ["a", "b", "c", "c", "a", "b"]})
    items = {"a": 0, "b": 1, "c": 2}
    d = leave_last_out(log, items)
    assert d.n_users == 2  # u3 has one item: nothing to hold out
    assert list(d.test_i) == [1, 0]  # u1's last is b, u2's last is a
    scores = np.array([[5.0, 1.0, 0.0], [0.0, 9.0, 1.0]])
    m = rank_metrics(scores, d, k=1)
    assert m["hr10"] == 0.5 and m["ndcg10"] == 0.5


def test_bpr_training_beats_chance_on_clustered_tastes() -> None:
    rng = np.random.default_rng(0)
    users, items = 60, 40
    rows = [(u, i) for u in range(users) for i in rng.choice(
        np.arange(20) + 20 * (u % 2), 8, replace=False)]
    u = np.asarray([r[0] for r in rows])
    i = np.asarray([r[1] for r in rows])
    last = np.r_[u[1:] != u[:-1], True]
    d = RecData(users, items, u[~last], i[~last], i[last])
    torch.manual_seed(0)
    model = build_recommender(users, items, 8)
    train_recommender(model, d, epochs=60, lr=0.05, seed=0)
    assert evaluate_ranking(model, d)["hr10"] > 0.6  # chance is about 10/33


def test_context_is_causal_and_learns_what_comes_next() -> None:
    """Each user walks the catalogue in order from a random start: only the context (the
    items just before) can tell what comes next, and the model must use it."""
    rng = np.random.default_rng(0)
    users, items, length = 80, 30, 8
    u = np.repeat(np.arange(users), length)
    i = ((rng.integers(0, items, users)[:, None] + np.arange(length)) % items).ravel()
    last = np.r_[u[1:] != u[:-1], True]
    d = RecData(users, items, u[~last], i[~last], i[last])
    ctx = d.train_context
    assert (ctx[0] == items).all()  # a user's first row has no history
    assert ctx[1, 0] == i[0] and (ctx[1, 1:] == items).all()
    assert ctx[6, :CONTEXT].tolist() == i[:6][::-1][:CONTEXT].tolist()
    assert d.last_context[0].tolist() == i[:7][::-1][:CONTEXT].tolist()
    torch.manual_seed(0)
    model = build_recommender(users, items, 16)
    train_recommender(model, d, epochs=40, lr=0.05, seed=0)
    assert evaluate_ranking(model, d)["hr10"] > 0.9  # without context: about 10/23


def _gate(brand: str, train: int) -> GateReport:
    return GateReport(brand, "0" * 64, "0" * 64, ("purchase_history",), {}, {}, train, 0, 0,
                      train, train // 4)


def test_private_training_is_planned_from_the_smallest_brand() -> None:
    base = RunSettings(run_id="r", brands=("a", "b"),
                       consent_as_of="2026-09-30T00:00:00+00:00", rounds=4, dp_epsilon=2.0)
    reports = {"a": _gate("a", 4000), "b": _gate("b", 800)}
    smallest = min(r.train_examples for r in reports.values())
    settings, plan = plan_private_training(base, smallest)
    assert plan is not None
    dp = plan.report()
    assert dp["epsilon"] == pytest.approx(2.0, abs=0.05)
    assert settings.dp_noise_multiplier > 0.5 and settings.dp_sample_rate == 200 / 800
    assert settings.dp_steps_per_round * settings.rounds == dp["steps"]
    again = RunSettings.from_mapping(settings.to_record())  # what a brand decodes
    assert again.dp_noise_multiplier == settings.dp_noise_multiplier
    assert plan_private_training(replace(base, dp_epsilon=0.0), smallest) == (
        replace(base, dp_epsilon=0.0), None)
    with pytest.raises(FederationError, match="cannot be planned"):
        plan_private_training(replace(base, dp_delta=0.01), smallest)
