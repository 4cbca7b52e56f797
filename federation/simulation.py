"""In-process simulation runtime: the same ServerApp/ClientApp, virtual SuperNodes."""

from __future__ import annotations

from flwr.simulation import run_simulation

from compliance.database import Database
from compliance.errors import ComityError
from federation.backend import simulation_backend
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
    run_simulation(
        server_app=server, client_app=client_app, num_supernodes=len(settings.brands),
        backend_config=simulation_backend(len(settings.brands), num_cpus),
    )
    if not outcomes:
        raise ComityError("federated training did not complete; see the audit log "
                          f"(run {settings.run_id})", status_code=500)
    return outcomes[0]
