"""The coordinator's side of bagged trees: no SecAgg+ (trees are appended, not summed), Flower's
bagging strategy with screening, and a first round that starts from no trees."""

from __future__ import annotations

import pytest

from federation.coordinator.coordinator import uses_secagg
from federation.coordinator.planning import initial_weights
from federation.coordinator.strategy import ScreenedBagging, make_strategy
from federation.settings import RunSettings


def _settings(kind: str) -> RunSettings:
    return RunSettings(run_id="r", brands=("a", "b", "c"),
                       consent_as_of="2026-01-01T00:00:00+00:00", model_kind=kind)


def test_trees_are_bagged_without_secure_aggregation() -> None:
    assert uses_secagg(_settings("mlp"), "fedavg")
    assert not uses_secagg(_settings("trees"), "fedavg")
    assert isinstance(make_strategy("fedavg", 3, model_kind="trees"), ScreenedBagging)
    assert not isinstance(make_strategy("fedavg", 3, model_kind="mlp"), ScreenedBagging)
    with pytest.raises(ValueError, match="bagged"):
        make_strategy("median", 3, model_kind="trees")


def test_round_one_of_trees_starts_from_none() -> None:
    (empty,) = initial_weights(_settings("trees"))
    assert empty.size == 0 and str(empty.dtype) == "uint8"
