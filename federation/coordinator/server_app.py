"""Flower ServerApp (Message API) for the deployment runtime: settings come from the run config
(`flwr run . <federation> --run-config ...`, which every brand also sees, so it names no
database); the compliance database is the coordinator's own, from its environment. Simulation
calls the same `coordinator.run_federated` with settings in hand
(`federation.runtime.simulation`)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from compliance.database import Database, utcnow
from federation.coordinator.coordinator import run_federated
from federation.coordinator.lineage.service import LineageService
from federation.coordinator.overlap_round import relay_overlap
from federation.gate.overlap import OVERLAP_STRATEGIES, RESULTS_ENV, OverlapRequest
from federation.settings import RunSettings

app = ServerApp()


def overlap_main(grid: Grid, cfg: dict[str, Any]) -> None:
    """A cross-brand PSI run (`federation.coordinator.overlap_round`): the counts go to a
    file of the coordinator's own (mode 0600, `COMITY_OVERLAP_DIR`), which the process that
    submitted the run reads and deletes; the exact size is never in the audit log or the
    run config."""
    req = OverlapRequest(run_id=str(cfg["run-id"]), brands=tuple(  # type: ignore[arg-type]
        str(cfg["brands"]).split(",")), as_of=str(cfg["consent-as-of"]),
        exact=OVERLAP_STRATEGIES[str(cfg["strategy"])])
    counts = relay_overlap(grid, req)
    out = Path(os.environ.get(RESULTS_ENV, ".comity/overlaps")) / f"{req.run_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(counts), fh)


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    if cfg.get("strategy") in OVERLAP_STRATEGIES:
        overlap_main(grid, cfg)
        return
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
