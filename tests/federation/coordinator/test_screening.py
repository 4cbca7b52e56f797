"""Bad updates are rejected before aggregation; a poisoned brand is contained by the median."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

from federation.coordinator.screening import screen
from federation.coordinator.strategy import make_strategy

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("task_identity")]
REF = [np.zeros((4, 3)), np.zeros(3)]


def _update(scale: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [a + scale * rng.normal(size=a.shape) for a in REF]


def test_screen_names_each_bad_update() -> None:
    nan = _update(0.1, 3)
    nan[1][0] = np.nan
    updates = [(1, _update(0.1, 1)), (2, _update(0.1, 2)), (3, nan),
               (4, [np.zeros((3, 4)), np.zeros(3)]), (5, _update(500.0, 5)),
               (6, _update(0.1, 6))]
    ok, bad = screen(updates, REF)
    assert ok == [0, 1, 5]
    reasons = dict(bad)
    assert "non-finite" in reasons[2] and "shapes" in reasons[3] and "norm" in reasons[4]


def _replies(updates: list[list[np.ndarray]]) -> list[Message]:
    out = []
    for k, arrays in enumerate(updates):
        msg = Message(RecordDict(), dst_node_id=k + 1, message_type="train")
        msg.metadata.__dict__["_message_id"] = f"m{k}"
        out.append(Message(RecordDict({"arrays": ArrayRecord(arrays),
                                       "metrics": MetricRecord({"num-examples": 10})}),
                           reply_to=msg))
    return out


@pytest.mark.parametrize("name", ["fedavg", "median"])
def test_strategy_never_averages_a_rejected_update(name: str) -> None:
    strat = make_strategy(name, 3)
    strat.configure_train(1, ArrayRecord(REF), ConfigRecord({}), _NoGrid())  # type: ignore[arg-type]
    poisoned = [np.full((4, 3), np.inf), np.zeros(3)]
    arrays, _ = strat.aggregate_train(1, _replies([_update(0.1, 1), _update(0.1, 2), poisoned]))
    assert arrays is not None
    assert all(np.isfinite(a).all() for a in arrays.to_numpy_ndarrays())
    (rej,) = strat.rejections  # type: ignore[attr-defined]
    assert rej.server_round == 1 and "non-finite" in rej.reason


def test_median_contains_a_large_but_plausible_poisoned_brand() -> None:
    strat = make_strategy("median", 3)
    strat.norm_ratio = None  # type: ignore[attr-defined]  # let the poison through screening
    strat.configure_train(1, ArrayRecord(REF), ConfigRecord({}), _NoGrid())  # type: ignore[arg-type]
    honest = [_update(0.1, 1), _update(0.1, 2)]
    arrays, _ = strat.aggregate_train(1, _replies([*honest, _update(50.0, 9)]))
    assert arrays is not None
    agg = arrays.to_numpy_ndarrays()
    bound = max(float(np.abs(a).max()) for u in honest for a in u)
    assert max(float(np.abs(a).max()) for a in agg) <= bound + 1e-9


class _NoGrid:
    def get_node_ids(self) -> list[int]:
        return [1, 2, 3]

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return Message(content, dst_node_id=dst_node_id, message_type=message_type)
