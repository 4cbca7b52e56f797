"""A DP aggregate across brand silos as one Flower SecAgg+ round.

The coordinator sends the query plan (public metadata only) as the config of one legacy fit
round; each brand's ClientApp answers with its bounded local vector (`local_vector`), weight 1;
SecAgg+ reveals only the mean of the vectors, which times the number of brands is their sum.
Noise is added once, on the coordinator, by `release_sum`. Rows never leave a brand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from flwr.app import Context
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from compliance.errors import ComityError
from federation.backend import simulation_backend
from federation.brand import brand_of
from federation.secagg import MIN_BRANDS, secure_vector_sum
from federation.wire_audit import AuditingGrid, declare_population
from privacy.aggregates.federated import (
    CLIPPING_RANGE,
    MODULUS_RANGE,
    QUANTIZATION_RANGE,
    FederatedPlan,
    local_vector,
)
from privacy.aggregates.release import scan

PLAN_KEY = "dp-aggregate-plan"
BRANDS_KEY = "dp-aggregate-brands"


def silo_frame(plan: FederatedPlan, brand: str, path: str | None = None) -> pl.DataFrame:
    """The brand's own rows, only the columns the query uses; read at the brand."""
    return scan(plan.spec, plan.query, path or plan.spec.silos[brand]).collect()


def answer(config: dict[str, Any], context: Context) -> tuple[list[np.ndarray], int,
                                                              dict[str, float]]:
    """Brand side of the round: the local vector, weight 1 (so the secure mean is sum/n)."""
    plan = FederatedPlan.from_json(str(config[PLAN_KEY]))
    brand = brand_of(context, str(config[BRANDS_KEY]).split(","))
    path = context.node_config.get("aggregate-silo")
    frame = silo_frame(plan, brand, str(path) if path else None)
    declare_population(context, frame.height)
    vec = local_vector(frame, plan)
    return [vec.astype(np.float64)], 1, {}


def is_aggregate_round(config: dict[str, Any]) -> bool:
    return PLAN_KEY in config


def secure_sum(grid: Grid, context: Context, plan: FederatedPlan) -> tuple[np.ndarray, int]:
    brands = sorted(plan.spec.silos)
    n = len(brands)
    if n < MIN_BRANDS:
        raise ComityError(f"SecAgg+ needs at least {MIN_BRANDS} silos, got {n}")
    size = len(plan.keys) * (2 if plan.with_sum else 1)
    summed = secure_vector_sum(
        AuditingGrid(grid), context, n_brands=n, size=size,
        config={PLAN_KEY: plan.to_json(), BRANDS_KEY: ",".join(brands)},
        clipping_range=CLIPPING_RANGE, quantization_range=QUANTIZATION_RANGE,
        modulus_range=MODULUS_RANGE)
    if summed is None:
        raise ComityError("no brand answered the aggregate round", status_code=503)
    return summed


def simulate_secure_sum(plan: FederatedPlan, client_app: ClientApp | None = None
                        ) -> tuple[np.ndarray, int]:
    """One SecAgg+ round in Flower's simulation runtime, one virtual SuperNode per silo,
    running comity's own ClientApp unless another is given."""
    if client_app is None:
        from federation.client_app import app as default_app  # it imports this module

        client_app = default_app
    out: list[tuple[np.ndarray, int]] = []
    server = ServerApp()

    @server.main()
    def _main(grid: Grid, context: Context) -> None:
        out.append(secure_sum(grid, context, plan))

    n = len(plan.spec.silos)
    run_simulation(server_app=server, client_app=client_app, num_supernodes=n,
                   backend_config=simulation_backend(n))
    if not out:
        raise ComityError("the federated aggregate round did not complete", status_code=503)
    return out[0]

