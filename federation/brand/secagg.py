"""Secure aggregation with Flower's SecAgg+, the brand's side: `secaggplus_mod` masks the
reply of a SecAgg+ round, and the legacy FitIns/FitRes records that mod speaks are turned into
calls of the same training and evaluation code the Message-API rounds use
(`federation.coordinator.secagg` explains why the legacy format is needed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from flwr.app import Context, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.client.mod import secaggplus_mod
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    Code,
    EvaluateRes,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS
from flwr.compat.common import recorddict_compat as compat

TrainFn = Callable[[dict[str, Any], list[np.ndarray]], tuple[list[np.ndarray], int,
                                                                dict[str, float]]]
EvalFn = Callable[[dict[str, Any], list[np.ndarray]], tuple[float, int, dict[str, float]]]


def secagg_when_asked(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """`secaggplus_mod` for SecAgg+ rounds only; plain train messages pass straight on."""
    if msg.metadata.message_type == MessageType.TRAIN and \
            RECORD_KEY_CONFIGS in msg.content.config_records:
        return secaggplus_mod(msg, ctxt, call_next)
    return call_next(msg, ctxt)


def is_legacy(content: RecordDict) -> bool:
    return any(k.startswith(("fitins.", "evaluateins.")) for k in content.array_records)


def legacy_train(msg: Message, train: TrainFn) -> Message:
    ins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    weights, n, metrics = train(dict(ins.config), parameters_to_ndarrays(ins.parameters))
    res = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(weights), n, dict(metrics))
    return Message(compat.fitres_to_recorddict(res, keep_input=True), reply_to=msg)


def legacy_evaluate(msg: Message, evaluate: EvalFn) -> Message:
    ins = compat.recorddict_to_evaluateins(msg.content, keep_input=True)
    loss, n, metrics = evaluate(dict(ins.config), parameters_to_ndarrays(ins.parameters))
    res = EvaluateRes(Status(Code.OK, ""), loss, n, dict(metrics))
    return Message(compat.evaluateres_to_recorddict(res), reply_to=msg)
