"""Flower ServerApp (Message API) for the deployment runtime: settings come from the run config
(`flwr run . <federation> --run-config ...`, which every brand also sees, so it names no
database); the compliance database is the coordinator's own, from its environment. Simulation
calls the same `coordinator.run_federated` with settings in hand
(`federation.runtime.simulation`)."""

from __future__ import annotations

import uuid

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from compliance.database import Database, utcnow
from federation.coordinator.coordinator import run_federated
from federation.coordinator.lineage.service import LineageService
from federation.settings import RunSettings

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    if not cfg.get("run-id"):
        cfg["run-id"] = str(uuid.uuid4())
    db = Database()  # the coordinator's own (COMITY_DATABASE_URL): never in the run config
    if not cfg.get("consent-as-of"):  # a restarted run keeps the snapshot time it began with
        with db.reading() as session:
            started = LineageService(session).consent_as_of(str(cfg["run-id"]))
        cfg["consent-as-of"] = (started or utcnow()).isoformat()
    settings = RunSettings.from_mapping({k: v for k, v in cfg.items() if v != ""})
    run_federated(grid, settings, db, strategy=str(cfg.get("strategy", "fedavg")),
                  context=context)
