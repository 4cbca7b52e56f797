"""In-process simulation runtime: the same ServerApp/ClientApp, virtual SuperNodes."""

from __future__ import annotations

import logging
import os

from flwr.simulation import run_simulation

from compliance.database import Database
from compliance.errors import ComityError
from federation.client_app import app as client_app
from federation.coordinator import ProgressFn, RunOutcome
from federation.server_app import make_server_app
from federation.settings import RunSettings


def simulate(settings: RunSettings, db: Database, *, strategy: str = "fedavg",
             progress: ProgressFn | None = None, num_cpus: int | None = None) -> RunOutcome:
    """Run one federated training in simulation; raises if the ServerApp did not finish."""
    outcomes: list[RunOutcome] = []
    server = make_server_app(settings, db, strategy=strategy, progress=progress,
                             on_done=outcomes.append)
    cpus = num_cpus or max(1, min(len(settings.brands), os.cpu_count() or 1))
    for name in ("flwr", "ray"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    run_simulation(
        server_app=server, client_app=client_app, num_supernodes=len(settings.brands),
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False,
                          "logging_level": "error", "log_to_driver": False,
                          "object_store_memory": 256 * 1024 * 1024},
        },
    )
    if not outcomes:
        raise ComityError("federated training did not complete; see the audit log "
                          f"(run {settings.run_id})", status_code=500)
    return outcomes[0]
