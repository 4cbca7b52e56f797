"""The value of joining at the brand: the evaluate reply carries the federated and the
local-only figure side by side, and nothing but metrics."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.app.message_type import MessageType

from federation.brand.local import handle_evaluate
from federation.models.churn import ChurnData, build_model, get_weights
from federation.models.recommend import RecData, build_recommender
from federation.settings import LIFT_KEY, RunSettings

BASE = RunSettings("lift", ("a", "b"), "2026-01-01T00:00:00+00:00")
pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("task_identity")]


def _churn(n: int = 200) -> ChurnData:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.float32)
    k = n // 5
    return ChurnData(x[2 * k:], y[2 * k:], x[:k], y[:k], x[k:2 * k], y[k:2 * k])


def _reply(settings: RunSettings, weights: list[np.ndarray],
           data: ChurnData | RecData) -> Message:
    config = ConfigRecord({**settings.to_record(), LIFT_KEY: True})
    msg = Message(RecordDict({"arrays": ArrayRecord(weights), "config": config}),
                  dst_node_id=1, message_type=MessageType.EVALUATE)
    ctx = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={})
    return handle_evaluate(msg, ctx, lambda s, c: data)


def _only_metrics(reply: Message) -> dict[str, Any]:
    content = reply.content
    assert not content.array_records and not content.config_records  # no rows, no weights
    metrics = dict(content.metric_records["metrics"])
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    return metrics


def test_churn_evaluate_reply_carries_federated_and_local_only_auc() -> None:
    settings = replace(BASE, model="churn", model_kind="logistic", rounds=2,
                           local_epochs=2, learning_rate=0.05)
    weights = get_weights(build_model(4, "logistic"))
    m = _only_metrics(_reply(settings, weights, _churn()))
    assert 0.0 <= m["auc"] <= 1.0 and 0.5 < m["local_only_auc"] <= 1.0
    assert m["num-examples"] == 40


def test_recommender_evaluate_reply_carries_both_hr_and_ndcg() -> None:
    rng = np.random.default_rng(1)
    users = 30
    train_u = np.repeat(np.arange(users), 5)
    data = RecData(users, 20, train_u, rng.integers(0, 20, size=len(train_u)),
                   rng.integers(0, 20, size=users))
    settings = replace(BASE, model="recommend", items=20, dim=4, rounds=1, local_epochs=1)
    m = _only_metrics(_reply(settings, build_recommender(1, 20, 4).item_weights(), data))
    assert {"hr10", "ndcg10", "local_only_hr10", "local_only_ndcg10"} <= set(m)
