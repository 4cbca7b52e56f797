"""Flower's in-process simulation runtime: the same ServerApp/ClientApp code as the
deployment, on virtual SuperNodes (one per brand) in one machine.

`run_in_simulation` is the one wrapper: a ServerApp main, run once, its result handed back or
an error raised when it did not finish. Training runs, DP aggregate rounds and the benchmark
all go through it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from flwr.app import Context
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from compliance.database import Database
from federation.brand.client_app import app as brand_client_app
from federation.coordinator.aggregate_round import secure_sum
from federation.coordinator.coordinator import ProgressFn, RunOutcome, run_federated
from federation.coordinator.dedup_round import dedup_secure_sum
from federation.coordinator.overlap_round import relay_overlap
from federation.errors import FederationError
from federation.gate.overlap import OverlapRequest
from federation.settings import RunSettings
from privacy.aggregates.federated import FederatedPlan
from privacy.overlap.dedup import DedupCounts
from privacy.overlap.schemas import PsiCounts

T = TypeVar("T")


def simulation_backend(n_nodes: int, num_cpus: int | None = None) -> dict[str, Any]:
    """Ray settings for a CPU-only simulation with one core per virtual SuperNode; also
    quiets Flower's and Ray's logs (they would print once per node and round)."""
    for name in ("flwr", "ray"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    cpus = num_cpus or max(1, min(n_nodes, os.cpu_count() or 1))
    return {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False,
                          "logging_level": "error", "log_to_driver": False,
                          "object_store_memory": 256 * 1024 * 1024}}


def run_in_simulation(main: Callable[[Grid, Context], T], *, n_nodes: int,
                      client_app: ClientApp = brand_client_app, num_cpus: int | None = None,
                      what: str = "the federated run") -> T:
    """Run `main` as a ServerApp over `n_nodes` virtual SuperNodes running `client_app`;
    returns what `main` returned. Flower logs a ServerApp's exception instead of raising it,
    so a main that did not return raises here, naming `what`."""
    out: list[T] = []
    server = ServerApp()

    @server.main()
    def _main(grid: Grid, context: Context) -> None:
        out.append(main(grid, context))

    run_simulation(server_app=server, client_app=client_app, num_supernodes=n_nodes,
                   backend_config=simulation_backend(n_nodes, num_cpus))
    if not out:
        raise FederationError(f"{what} did not complete", status_code=503)
    return out[0]


def simulate(settings: RunSettings, db: Database, *, strategy: str = "fedavg",
             progress: ProgressFn | None = None, num_cpus: int | None = None) -> RunOutcome:
    """Run one federated training in simulation; raises if the ServerApp did not finish."""
    return run_in_simulation(
        lambda grid, context: run_federated(grid, settings, db, strategy=strategy,
                                            progress=progress, context=context),
        n_nodes=len(settings.brands), num_cpus=num_cpus,
        what=f"federated training (run {settings.run_id}; see the audit log)")


def simulate_secure_sum(plan: FederatedPlan, client_app: ClientApp = brand_client_app
                        ) -> tuple[np.ndarray, int]:
    """One SecAgg+ aggregate round in simulation, one virtual SuperNode per silo, running
    comity's own ClientApp unless another is given."""
    return run_in_simulation(lambda grid, context: secure_sum(grid, context, plan),
                             n_nodes=len(plan.spec.silos), client_app=client_app,
                             what="the federated aggregate round")


def simulate_dedup_sum(plan: FederatedPlan, run_id: str, as_of: str,
                       client_app: ClientApp = brand_client_app
                       ) -> tuple[np.ndarray, DedupCounts]:
    """A de-duplicated aggregate in simulation: the linkage ring over one virtual SuperNode
    per silo, then the SecAgg+ round over each brand's kept customers, in one ServerApp."""
    return run_in_simulation(
        lambda grid, context: dedup_secure_sum(grid, context, plan, run_id, as_of),
        n_nodes=len(plan.spec.silos), client_app=client_app,
        what="the de-duplicated aggregate")


def simulate_overlap(req: OverlapRequest, client_app: ClientApp = brand_client_app
                     ) -> PsiCounts:
    """A cross-brand PSI in simulation: two virtual SuperNodes, the brands of `req`, the
    coordinator relaying blinded points between them in query rounds."""
    return run_in_simulation(lambda grid, _context: relay_overlap(grid, req),
                             n_nodes=2, client_app=client_app, num_cpus=2,
                             what="the cross-brand overlap")
