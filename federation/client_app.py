"""Flower ClientApp (Message API): one per brand, next to the brand's own data.

Three handlers: `query` runs the privacy gate and reports counts and the consent
snapshot digest (no identifiers); `train` and `evaluate` run plain PyTorch from
`federation.task`. Only weights, counts and metrics leave the brand.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from federation.brand import PreparedChurn, prepare_churn
from federation.gate_report import GateReport
from federation.settings import RunSettings
from federation.silo import load_silo
from federation.task import build_model, evaluate, get_weights, set_weights, train_local

app = ClientApp()
torch.set_num_threads(1)


def brand_of(context: Context, settings: RunSettings) -> str:
    """Deployment: the SuperNode's `brand-id` node config. Simulation: partition index."""
    if "brand-id" in context.node_config:
        return str(context.node_config["brand-id"])
    return settings.brands[int(context.node_config["partition-id"])]


@lru_cache(maxsize=4)
def prepared(settings: RunSettings, brand_id: str) -> PreparedChurn:
    policies = load_policies()
    db = Database(settings.database_url, migrate=False)
    try:
        with db.unit_of_work() as session:
            snapshot = ConsentService(session).snapshot(brand_id, settings.purpose,
                                                        settings.as_of)
    finally:
        db.dispose()
    silo = load_silo(Path(settings.silo_root) / brand_id, policies)
    return prepare_churn(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                         purpose=settings.purpose, cutoff=date.fromisoformat(settings.cutoff),
                         horizon_days=settings.horizon_days, seed=settings.seed)


def _settings(msg: Message) -> RunSettings:
    return RunSettings.from_mapping(msg.content.config_records["config"])


def _weights(msg: Message) -> list[np.ndarray]:
    return msg.content.array_records["arrays"].to_numpy_ndarrays()


@app.query()
def gate_report(msg: Message, context: Context) -> Message:
    settings = _settings(msg)
    return Message(GateReport.of(prepared(settings, brand_of(context, settings))).to_records(),
                   reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    settings = _settings(msg)
    p = prepared(settings, brand_of(context, settings))
    model = build_model(p.x_train.shape[1], settings.model_kind)
    set_weights(model, _weights(msg))
    config = msg.content.config_records["config"]
    server_round = int(cast(int, config.get("server-round", 0)))
    loss = train_local(model, p.x_train, p.y_train, epochs=settings.local_epochs,
                       lr=settings.learning_rate, batch_size=settings.batch_size,
                       seed=settings.seed * 1000 + server_round,
                       proximal_mu=float(cast(float, config.get("proximal-mu", 0.0))))
    metrics = MetricRecord({"train-loss": loss, "num-examples": len(p.x_train)})
    return Message(RecordDict({"arrays": ArrayRecord(get_weights(model)), "metrics": metrics}),
                   reply_to=msg)


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    settings = _settings(msg)
    p = prepared(settings, brand_of(context, settings))
    model = build_model(p.x_test.shape[1], settings.model_kind)
    set_weights(model, _weights(msg))
    m = evaluate(model, p.x_test, p.y_test)
    metrics = MetricRecord({"eval-loss": m["loss"], "accuracy": m["accuracy"], "auc": m["auc"],
                            "num-examples": len(p.x_test)})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
