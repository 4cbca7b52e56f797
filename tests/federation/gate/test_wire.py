"""The wire audit's rules on real Flower records, and the client mod withholding a reply."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.common import ndarray_to_bytes

from federation.brand.wire_mod import WIRE_ERROR_CODE, wire_audit_mod
from federation.coordinator.auditing_grid import AuditingGrid
from federation.errors import WireViolation
from federation.gate.wire import inspect_content

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("task_identity")]
CUSTOMERS = 137


def _check(content: RecordDict) -> list[str]:
    return inspect_content(content, brand="b", message_type="train",
                           population=[CUSTOMERS, 110]).violations


def test_model_tensors_and_scalar_metrics_pass() -> None:
    content = RecordDict({
        "arrays": ArrayRecord([np.zeros((16, 10), np.float32), np.zeros(16, np.float32)]),
        "metrics": MetricRecord({"train-loss": 0.3, "num-examples": 110}),
        "gate": ConfigRecord({"consent-snapshot-sha256": "ab" * 32,
                              "dropped-columns": ["phone\tidentifying (phone)"]}),
        "fitres.status": ConfigRecord({"code": 0, "message": ""}),
    })
    cap = inspect_content(content, brand="b", message_type="train", population=[CUSTOMERS])
    assert cap.violations == []
    assert {(e.kind, tuple(e.shape)) for e in cap.entries} >= {("array", (16, 10)),
                                                               ("array", (16,))}
    assert all(len(e.sha256) == 64 for e in cap.entries)


@pytest.mark.parametrize(("content", "words"), [
    (RecordDict({"arrays": ArrayRecord([np.zeros((CUSTOMERS, 8), np.float32)])}),
     "row count"),
    (RecordDict({"arrays": ArrayRecord([np.zeros(110, np.float32)])}), "row count"),
    (RecordDict({"m": MetricRecord({"scores": [0.1] * CUSTOMERS})}), "one per row"),
    (RecordDict({"c": ConfigRecord({"customer": "LU000123"})}), "does not declare"),
    (RecordDict({"gate": ConfigRecord({"dropped-columns": ["name\t张伟"]})}),
     "does not declare"),
    (RecordDict({"fitres.status": ConfigRecord({"message": "13812345678"})}),
     "does not declare"),
    (RecordDict({"c": ConfigRecord({"blob": b"\x00\x01"})}), "bytes outside"),
    (RecordDict({"secaggplus_configs": ConfigRecord(
        {"masked_params": [ndarray_to_bytes(np.zeros((CUSTOMERS, 4), np.int64))]})}),
     "row count"),
])
def test_what_must_not_leave_a_brand_is_named(content: RecordDict, words: str) -> None:
    violations = _check(content)
    assert violations and words in violations[0]


def _incoming() -> Message:
    msg = Message(RecordDict(), dst_node_id=1, message_type="train")
    msg.metadata.__dict__["_message_id"] = "m1"
    return msg


def test_client_mod_withholds_a_reply_with_user_embeddings(tmp_path: Path) -> None:
    ctx = Context(run_id=1, node_id=1, node_config={"brand-id": "lumen",
                                                   "wire-audit-dir": str(tmp_path)},
                  state=RecordDict(), run_config={})
    ctx.state.config_records["wire-audit"] = ConfigRecord({"population": [CUSTOMERS]})
    msg = _incoming()

    def leaky(m: Message, _c: Context) -> Message:
        return Message(RecordDict({"arrays": ArrayRecord(
            [np.zeros((CUSTOMERS, 16), np.float32)])}), reply_to=m)

    reply = wire_audit_mod(msg, ctx, leaky)
    assert reply.has_error() and reply.error.code == WIRE_ERROR_CODE
    (line,) = (tmp_path / "lumen.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["violations"]


class _Grid:
    def __init__(self, replies: list[Message]) -> None:
        self.replies = replies

    def send_and_receive(self, _messages: object, *, timeout: float | None = None
                         ) -> list[Message]:
        return self.replies


def test_coordinator_stops_on_a_violating_reply() -> None:
    msg = _incoming()
    bad = Message(RecordDict({"c": ConfigRecord({"name": "张伟"})}), reply_to=msg)
    grid = AuditingGrid(_Grid([bad]))  # type: ignore[arg-type]
    with pytest.raises(WireViolation, match="does not declare"):
        grid.send_and_receive([])
    assert grid.summary()["violations"] == 1
