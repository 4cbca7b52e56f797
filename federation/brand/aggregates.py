"""A DP aggregate across brand silos, the brand's side of its one SecAgg+ round.

The coordinator sends the query plan (public metadata only) as the config of one legacy fit
round (`federation.coordinator.aggregate_round`); each brand answers with its bounded local
vector (`local_vector`), weight 1; SecAgg+ reveals only the mean of the vectors, which times
the number of brands is their sum. Noise is added once, on the coordinator, by `release_sum`.
Rows never leave a brand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from flwr.app import Context

from federation.brand.node import brand_of
from federation.brand.wire_mod import declare_population
from federation.settings import BRANDS_KEY, PLAN_KEY
from privacy.aggregates.federated import FederatedPlan, local_vector
from privacy.aggregates.release import scan


def silo_frame(plan: FederatedPlan, brand: str, path: str | None = None) -> pl.DataFrame:
    """The brand's own rows, only the columns the query uses; read at the brand."""
    return scan(plan.spec, plan.query, path or plan.spec.silos[brand]).collect()


def answer(config: dict[str, Any], context: Context) -> tuple[list[np.ndarray], int,
                                                              dict[str, float]]:
    """The local vector, weight 1 (so the secure mean is sum/n)."""
    plan = FederatedPlan.from_json(str(config[PLAN_KEY]))
    brand = brand_of(context, str(config[BRANDS_KEY]).split(","))
    path = context.node_config.get("aggregate-silo")
    frame = silo_frame(plan, brand, str(path) if path else None)
    declare_population(context, frame.height)
    vec = local_vector(frame, plan)
    return [vec.astype(np.float64)], 1, {}
