"""Federated validation of the churn family (`federation.coordinator.family`): brands score
each candidate on their own validation rows with the product's brand code, the coordinator
averages and picks."""

from __future__ import annotations

import math

import numpy as np
from flwr.app import MetricRecord, RecordDict

from federation.brand.local import evaluate_churn, train
from federation.coordinator.family import choose_family, validation_average
from federation.models.churn import ChurnData, build_model, get_weights
from federation.models.churn_trees import empty_model
from federation.settings import RunSettings


def _brand(seed: int, n: int = 400) -> ChurnData:
    """A constructed case where a line cannot do it: churn is an XOR of two features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.float32)
    flip = rng.random(n) < 0.1
    y[flip] = 1 - y[flip]
    k = n // 5
    return ChurnData(x[2 * k:], y[2 * k:], x[:k], y[:k], x[k:2 * k], y[k:2 * k])


def _federated_validation(kind: str, brands: list[ChurnData], rounds: int) -> dict[str, float]:
    """A few rounds through the brand code (trees appended, networks averaged), then every
    brand's validation metrics averaged as the coordinator does."""
    from federation.coordinator.strategy import append_trees

    s = RunSettings(run_id=f"v-{kind}", brands=("a", "b", "c"),
                    consent_as_of="2026-01-01T00:00:00+00:00", model_kind=kind,
                    local_epochs=1, learning_rate=0.05)
    weights = (empty_model() if kind == "trees" else
               get_weights(build_model(4, kind)))
    for r in range(rounds):
        outs = [train(s, RecordDict(), weights, {"server-round": r + 1}, b)[0] for b in brands]
        if kind == "trees":
            weights = [np.frombuffer(append_trees(weights[0].tobytes(),
                                                  [o[0].tobytes() for o in outs]),
                                     dtype=np.uint8)]
        else:
            weights = [np.mean([o[i] for o in outs], axis=0) for i in range(len(weights))]
    records = []
    for b in brands:
        loss, n, metrics = evaluate_churn(s, weights, b, validation=True)
        records.append(RecordDict({"m": MetricRecord({**metrics, "eval-loss": loss,
                                                      "num-examples": n})}))
    return {k: float(v) for k, v in validation_average(records).items()}  # type: ignore[arg-type]


def test_validation_picks_trees_where_a_line_cannot_separate() -> None:
    brands = [_brand(k) for k in range(3)]
    validation = {kind: _federated_validation(kind, brands, 6) for kind in ("logistic", "trees")}
    assert validation["trees"]["auc"] > validation["logistic"]["auc"] + 0.2, validation
    assert choose_family(validation) == "trees"


def test_choice_prefers_the_simpler_family_on_a_tie_and_nan_loses() -> None:
    assert choose_family({"trees": {"auc": 0.8}, "logistic": {"auc": 0.8}}) == "logistic"
    assert choose_family({"mlp": {"auc": math.nan}, "trees": {"auc": 0.6}}) == "trees"


def test_a_brand_without_an_auc_is_left_out_of_the_average() -> None:
    recs = [RecordDict({"m": MetricRecord({"auc": a, "num-examples": n})})
            for a, n in ((0.9, 10), (math.nan, 50), (0.6, 20))]
    assert abs(float(validation_average(recs)["auc"]) - (0.9 * 10 + 0.6 * 20) / 30) < 1e-12  # type: ignore[arg-type]
