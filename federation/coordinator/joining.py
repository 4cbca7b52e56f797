"""The value of joining, per brand: once the run is trained, every brand evaluates the final
model and a model it trained on its own data alone, on the same held-out customers at the
brand (`federation.brand.local.value_of_joining`); only those metrics come back. The lift is
the relative gain of the federated figure over the local-only one, recorded in the run's
lineage metrics (`per_brand_lift`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid

from federation.settings import LIFT_KEY, RunSettings

log = logging.getLogger(__name__)
LIFT_METRICS = {"churn": ("auc",), "recommend": ("hr10", "ndcg10")}


def lift(federated: float, local_only: float) -> dict[str, float | None]:
    """One figure's comparison; `lift` is relative (0.18: federated 18% above going alone),
    None where the local-only figure is zero."""
    rel = round(federated / local_only - 1.0, 4) if local_only > 0 else None
    return {"federated": round(federated, 4), "local_only": round(local_only, 4), "lift": rel}


def brand_lift(metrics: Mapping[str, Any], model: str) -> dict[str, dict[str, float | None]]:
    """A brand's evaluate reply as {metric: {federated, local_only, lift}}."""
    return {name: lift(float(metrics[name]), float(metrics[f"local_only_{name}"]))
            for name in LIFT_METRICS[model]
            if name in metrics and f"local_only_{name}" in metrics}


def measure_lift(grid: Grid, settings: RunSettings, weights: list[Any],
                 brand_of: Mapping[int, str], *, timeout: float = 600.0
                 ) -> dict[str, dict[str, dict[str, float | None]]]:
    """Ask every brand node for the value of joining; a brand whose node fails to answer is
    left out (logged), not the run: the model is already trained and recorded."""
    if settings.cooccurrence or settings.model not in LIFT_METRICS:
        return {}
    config = ConfigRecord({**settings.to_record(), LIFT_KEY: True})
    msgs = [Message(RecordDict({"arrays": ArrayRecord(weights), "config": config}),
                    dst_node_id=n, message_type=MessageType.EVALUATE) for n in sorted(brand_of)]
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for reply in grid.send_and_receive(msgs, timeout=timeout):
        node = reply.metadata.src_node_id
        if reply.has_error() or node not in brand_of:
            log.warning("no value-of-joining figures from node %s", node)
            continue
        figures = brand_lift(dict(reply.content.metric_records["metrics"]), settings.model)
        if figures:
            out[brand_of[node]] = figures
    return dict(sorted(out.items()))
