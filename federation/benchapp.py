"""Flower apps for the benchmark harness: each virtual SuperNode is one brand holding its
own partition (written by the harness to `data-dir/brand-<i>.npz`), and trains and evaluates
the same PyTorch code as the product path. Only weights, counts and metrics come back.

Tasks: `churn` (tabular features, binary label) and `recommend` (implicit feedback; item
embeddings are federated, each brand's user embeddings stay in its node state).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from federation.dpsgd import DpPlan, train_dp
from federation.recommend import (
    RecData,
    SequentialMF,
    assemble,
    evaluate_ranking,
    fold_in,
    membership_scores,
    train_recommender,
)
from federation.secagg import is_legacy, legacy_train, secagg_when_asked
from federation.statistics_round import answer as statistics_answer
from federation.statistics_round import is_statistics_round
from federation.task import bce_loss, build_model, evaluate, get_weights, set_weights, train_local
from privacy.membership import score_histogram

app = ClientApp(mods=[secagg_when_asked])
torch.set_num_threads(1)


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _data(cfg: Mapping[str, Any], context: Context) -> dict[str, np.ndarray]:
    pid = int(cast(int, context.node_config["partition-id"]))
    return _load(str(Path(str(cfg["data-dir"])) / f"brand-{pid}.npz"))


def _plan(cfg: ConfigRecord) -> DpPlan | None:
    if not bool(cfg.get("dp", False)):
        return None
    return DpPlan(float(cast(float, cfg["noise-multiplier"])), float(cast(float, cfg["clip"])),
                  float(cast(float, cfg["sample-rate"])), int(cast(int, cfg["steps-per-round"])),
                  int(cast(int, cfg["rounds"])), float(cast(float, cfg["delta"])))


def _reply(msg: Message, arrays: list[np.ndarray] | None, metrics: dict[str, Any]) -> Message:
    content = RecordDict({"metrics": MetricRecord(metrics)})
    if arrays is not None:
        content["arrays"] = ArrayRecord(arrays)
    return Message(content, reply_to=msg)


def _cfg(msg: Message) -> ConfigRecord:
    return msg.content.config_records["config"]


@app.train()
def train(msg: Message, context: Context) -> Message:
    if is_legacy(msg.content):  # a SecAgg+ round: only item statistics go through it here
        return legacy_train(msg, lambda c, _w: statistics_answer(
            c, RecData.from_arrays(_data(c, context))))
    cfg = _cfg(msg)
    d = _data(cfg, context)
    if is_statistics_round(cfg):
        arrays, _, _ = statistics_answer(cfg, RecData.from_arrays(d))
        return _reply(msg, arrays, {"num-examples": 1})
    weights = msg.content.array_records["arrays"].to_numpy_ndarrays()
    rnd = int(cast(int, cfg.get("server-round", 0)))
    seed = int(cast(int, cfg["seed"])) * 1000 + rnd
    lr = float(cast(float, cfg["lr"]))
    plan = _plan(cfg)
    if str(cfg["task"]) == "churn":
        model = build_model(d["x_train"].shape[1], str(cfg["model"]))
        set_weights(model, weights)
        if plan is None:
            loss = train_local(model, d["x_train"], d["y_train"],
                               epochs=int(cast(int, cfg["local-epochs"])), lr=lr,
                               batch_size=int(cast(int, cfg["batch-size"])), seed=seed,
                               proximal_mu=float(cast(float, cfg.get("proximal-mu", 0.0))))
        else:
            xt, yt = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
            loss = train_dp(model, (xt, yt), bce_loss, plan=plan, lr=lr, seed=seed)
        return _reply(msg, get_weights(model),
                      {"train-loss": loss, "num-examples": len(d["x_train"])})
    rec = RecData.from_arrays(d)
    model = _recommender(cfg, context, rec, weights)
    loss = train_recommender(model, rec, epochs=int(cast(int, cfg["local-epochs"])), lr=lr,
                             seed=seed)
    context.state[_users_key(cfg)] = ArrayRecord([model.users.weight.detach().numpy().copy()])
    return _reply(msg, model.item_weights(), {"train-loss": loss,
                                              "num-examples": rec.n_train})


def _users_key(cfg: ConfigRecord) -> str:
    """Each benchmarked configuration keeps its own user vectors: a DP run must not start
    from the vectors a non-private run trained in the same simulation."""
    return f"users-{cfg.get('run-name', '')!s}"


def _recommender(cfg: ConfigRecord, context: Context, rec: RecData,
                 items: list[np.ndarray]) -> SequentialMF:
    """The shared items from the server, this brand's own users from its node state (for a
    model released as item statistics, computed from their history)."""
    if bool(cfg.get("item-statistics", False)):
        return fold_in(items, rec, lr=0.0, seed=0, fit_users=False)
    user_state = context.state.array_records.get(_users_key(cfg))
    return assemble(rec.n_users, items,
                    user_state.to_numpy_ndarrays()[0] if user_state is not None else None)


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    cfg = _cfg(msg)
    d = _data(cfg, context)
    weights = msg.content.array_records["arrays"].to_numpy_ndarrays()
    if str(cfg["task"]) == "churn":
        model = build_model(d["x_test"].shape[1], str(cfg["model"]))
        set_weights(model, weights)
        m = evaluate(model, d["x_test"], d["y_test"])
        return _reply(msg, None, {"eval-loss": m["loss"], "auc": m["auc"],
                                  "accuracy": m["accuracy"], "num-examples": len(d["x_test"])})
    rec = RecData.from_arrays(d)
    model = _recommender(cfg, context, rec, weights)
    m = evaluate_ranking(model, rec, k=10)
    member, nonmember = membership_scores(model, rec, seed=int(cast(int, cfg["seed"])))
    # Shares, not counts: the strategy averages metrics weighted by num-examples, which
    # turns per-brand shares back into the pooled distribution.
    return _reply(msg, None, {
        "hr10": m["hr10"], "ndcg10": m["ndcg10"], "num-examples": rec.n_users,
        "mia-members": (score_histogram(member) / max(len(member), 1)).tolist(),
        "mia-nonmembers": (score_histogram(nonmember) / max(len(nonmember), 1)).tolist()})

