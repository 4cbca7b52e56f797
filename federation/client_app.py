"""Flower ClientApp (Message API): one per brand, next to the brand's own data.

Three handlers: `query` runs the privacy gate and reports counts and the consent
snapshot digest (no identifiers); `train` and `evaluate` run plain PyTorch from
`federation.task`; a train round may instead carry a DP aggregate plan
(`federation.aggregate_round`, SecAgg+) or ask for the brand's noisy item statistics
(`federation.statistics_round`). Only weights, counts, bounded aggregates and metrics leave
the brand.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from federation.aggregate_round import answer as aggregate_answer
from federation.aggregate_round import is_aggregate_round
from federation.brand import Prepared, PreparedRecommend, brand_of, prepare_for_run
from federation.dpsgd import DpPlan, train_dp
from federation.gate_report import GateReport
from federation.recommend import (
    SequentialMF,
    assemble,
    evaluate_ranking,
    fold_in,
    popularity_scores,
    rank_metrics,
    train_recommender,
)
from federation.secagg import is_legacy, legacy_evaluate, legacy_train, secagg_when_asked
from federation.settings import RunSettings
from federation.statistics_round import STAGE_KEY, is_statistics_round
from federation.statistics_round import answer as statistics_answer
from federation.task import (
    bce_loss,
    build_model,
    evaluate,
    get_weights,
    set_weights,
    train_local,
)
from federation.transitions import noise_share, plan_statistics
from federation.wire_audit import declare_population, wire_audit_mod

app = ClientApp(mods=[wire_audit_mod, secagg_when_asked])
torch.set_num_threads(1)


# A simulation actor may serve several brands and runs.
prepared = lru_cache(maxsize=32)(prepare_for_run)


def _prepared(settings: RunSettings, context: Context) -> Prepared:
    p = prepared(settings, brand_of(context, settings.brands))
    g = p.gate
    declare_population(context, g.records_used + g.excluded_no_consent + g.excluded_minor,
                       g.records_used, p.train_examples, p.test_examples)
    return p


def _settings(msg: Message) -> RunSettings:
    return RunSettings.from_mapping(msg.content.config_records["config"])


def _weights(msg: Message) -> list[np.ndarray]:
    return msg.content.array_records["arrays"].to_numpy_ndarrays()


@app.query()
def gate_report(msg: Message, context: Context) -> Message:
    settings = _settings(msg)
    return Message(GateReport.of(_prepared(settings, context)).to_records(), reply_to=msg)


def _plan(settings: RunSettings) -> DpPlan | None:
    if settings.dp_noise_multiplier <= 0:
        return None
    return DpPlan(settings.dp_noise_multiplier, settings.dp_clip, settings.dp_sample_rate,
                  settings.dp_steps_per_round, settings.rounds, settings.dp_delta)


def _recommender(settings: RunSettings, context: Context, p: PreparedRecommend,
                 items: list[np.ndarray]) -> SequentialMF:
    """The shared item side from the coordinator; this brand's user vectors from its node
    state, where they stay (they never leave the brand)."""
    if not settings.fits_users:
        return fold_in(items, p.data, lr=settings.learning_rate, seed=settings.seed,
                       fit_users=False)
    users = context.state.array_records.get(f"users-{settings.run_id}")
    return assemble(p.data.n_users, items,
                    users.to_numpy_ndarrays()[0] if users is not None else None)


def _train(settings: RunSettings, context: Context, weights: list[np.ndarray],
           config: Mapping[str, Any], *, secure: bool = False
           ) -> tuple[list[np.ndarray], int, dict[str, float]]:
    """`secure`: the round goes through SecAgg+, so a noise share is enough."""
    p = _prepared(settings, context)
    if is_statistics_round(config):
        if not isinstance(p, PreparedRecommend) or settings.dp_epsilon <= 0:
            raise ValueError("item statistics are asked of private recommendation runs only")
        stats = plan_statistics(target_epsilon=settings.dp_epsilon,
                                delta=settings.dp_delta, n_items=settings.items)
        sigma = stats.pop_sigma if config[STAGE_KEY] == "popularity" else stats.pair_sigma
        return statistics_answer(config, p.data, min_std=noise_share(
            sigma, len(settings.brands), secure=secure))
    server_round = (int(cast(int, config.get("server-round", 0)))
                    + int(cast(int, config.get("round-offset", 0))))
    seed = settings.seed * 1000 + server_round
    plan = _plan(settings)
    lr = settings.dp_learning_rate if plan else settings.learning_rate
    if isinstance(p, PreparedRecommend):
        rec = _recommender(settings, context, p, weights)
        loss = train_recommender(rec, p.data, epochs=settings.local_epochs, lr=lr, seed=seed)
        context.state[f"users-{settings.run_id}"] = ArrayRecord(
            [rec.users.weight.detach().numpy().copy()])
        return rec.item_weights(), p.data.n_users, {"train-loss": loss}
    model = build_model(p.x_train.shape[1], settings.model_kind)
    set_weights(model, weights)
    if plan is not None:
        loss = train_dp(model, (torch.from_numpy(p.x_train), torch.from_numpy(p.y_train)),
                        bce_loss, plan=plan, lr=lr, seed=seed)
    else:
        loss = train_local(model, p.x_train, p.y_train, epochs=settings.local_epochs,
                           lr=lr, batch_size=settings.batch_size, seed=seed,
                           proximal_mu=float(cast(float, config.get("proximal-mu", 0.0))))
    return get_weights(model), len(p.x_train), {"train-loss": loss}


def _evaluate(settings: RunSettings, context: Context, weights: list[np.ndarray]
              ) -> tuple[float, int, dict[str, float]]:
    p = _prepared(settings, context)
    if isinstance(p, PreparedRecommend):
        rec = _recommender(settings, context, p, weights)
        r = evaluate_ranking(rec, p.data)
        # The same model's non-personalized list, on the same held-out items: a model that
        # does not beat it should not be serving personalized lists.
        plain = rank_metrics(popularity_scores(p.data, rec.item_bias.weight.detach()
                                               .numpy()[:, 0]), p.data)
        return 1.0 - r["hr10"], p.data.n_users, {
            **r, "hr10_nonpersonalized": plain["hr10"]}
    model = build_model(p.x_test.shape[1], settings.model_kind)
    set_weights(model, weights)
    m = evaluate(model, p.x_test, p.y_test)
    return m["loss"], len(p.x_test), {"accuracy": m["accuracy"], "auc": m["auc"]}


@app.train()
def train(msg: Message, context: Context) -> Message:
    if is_legacy(msg.content):  # a SecAgg+ round: legacy FitIns in, FitRes out
        return legacy_train(msg, lambda cfg, w: aggregate_answer(cfg, context)
                            if is_aggregate_round(cfg)
                            else _train(RunSettings.from_mapping(cfg), context, w, cfg,
                                        secure=True))
    config = msg.content.config_records["config"]
    weights, n, metrics = _train(_settings(msg), context, _weights(msg), config)
    return Message(RecordDict({"arrays": ArrayRecord(weights),
                               "metrics": MetricRecord({**metrics, "num-examples": n})}),
                   reply_to=msg)


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    if is_legacy(msg.content):
        return legacy_evaluate(msg, lambda cfg, w: _evaluate(RunSettings.from_mapping(cfg),
                                                             context, w))
    loss, n, metrics = _evaluate(_settings(msg), context, _weights(msg))
    return Message(RecordDict({"metrics": MetricRecord({"eval-loss": loss, **metrics,
                                                        "num-examples": n})}), reply_to=msg)
