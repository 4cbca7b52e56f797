"""Federated validation of the churn model family: every brand scores a candidate on its own
validation rows and reports only the metrics; the coordinator averages them (weighted by the
brands' validation rows) and picks the family. Pure, no Flower round of its own: the rounds
are ordinary evaluation rounds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import cast

from flwr.app import MetricRecord, RecordDict

from federation.models.churn import FAMILIES
from federation.models.selection import best_by_validation

WEIGHT_KEY = "num-examples"


def validation_average(records: list[RecordDict], weighting_key: str = WEIGHT_KEY
                       ) -> MetricRecord:
    """Flower's example-weighted mean of the brands' scalar metrics, leaving out a brand whose
    metric is NaN (a brand whose few validation rows hold one class has no AUC: averaging it
    in would make every candidate's AUC NaN). Lists (histograms) are not federated here."""
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for record in records:
        metrics = next(iter(record.metric_records.values()))
        w = float(cast(float, metrics[weighting_key]))
        for key, value in metrics.items():
            if key == weighting_key or isinstance(value, list):
                continue
            v = float(cast(float, value))
            if math.isfinite(v):
                sums[key] = sums.get(key, 0.0) + w * v
                weights[key] = weights.get(key, 0.0) + w
    return MetricRecord({k: sums[k] / weights[k] if weights[k] > 0 else float("nan")
                         for k in sums})


def choose_family(validation: Mapping[str, Mapping[str, float]], *, key: str = "auc",
                  order: Sequence[str] = FAMILIES) -> str:
    """The family with the best federated validation `key` (NaN loses; on a tie the one
    earlier in `order`, the simpler model)."""
    return best_by_validation(validation, keys=(key,), order=order)
