"""Flower ServerApp (Message API). Deployment reads settings from the run config
(`flwr run . <federation> --run-config ...`); simulation builds the app with settings
in hand. Both call `coordinator.run_federated`, the one code path."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from compliance.database import Database, utcnow
from federation.coordinator import ProgressFn, RunOutcome, run_federated
from federation.lineage.service import LineageService
from federation.settings import RunSettings

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    if not cfg.get("run-id"):
        cfg["run-id"] = str(uuid.uuid4())
    db = Database(str(cfg["database-url"]))
    if not cfg.get("consent-as-of"):  # a restarted run keeps the snapshot time it began with
        with db.reading() as session:
            started = LineageService(session).consent_as_of(str(cfg["run-id"]))
        cfg["consent-as-of"] = (started or utcnow()).isoformat()
    settings = RunSettings.from_mapping({k: v for k, v in cfg.items() if v != ""})
    run_federated(grid, settings, db, strategy=str(cfg.get("strategy", "fedavg")),
                  context=context)


def make_server_app(settings: RunSettings, db: Database, *, strategy: str = "fedavg",
                    progress: ProgressFn | None = None,
                    on_done: Callable[[RunOutcome], None] | None = None) -> ServerApp:
    sim_app = ServerApp()

    @sim_app.main()
    def _main(grid: Grid, context: Context) -> None:
        outcome = run_federated(grid, settings, db, strategy=strategy, progress=progress,
                                context=context)
        if on_done:
            on_done(outcome)

    return sim_app
