"""Starting a training run as the alliance operator: the run's settings from the registered
brands, then either Flower's simulation runtime (the brands' node configs on this machine) or
the deployment runtime (`flwr run` to the SuperLink), followed to the end with round progress
read from lineage. The run config sent to the SuperLink names no database, path or key: the
ServerApp has the coordinator's database from its own environment, each brand its data from
its own node config."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.database import Database, utcnow
from compliance.errors import InputError, NotFoundError
from compliance.subjects.models import Brand
from federation.brand.supernode import executable
from federation.coordinator.lineage.models import ModelVersion, TrainingRound, TrainingRun
from federation.data.catalogue import load_catalogue
from federation.errors import FederationError
from federation.runtime.deployment import FEDERATION, run_args
from federation.settings import RunSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    status: str
    rounds: int
    model_version: int | None
    final: dict[str, Any]
    reason: str | None = None


def run_settings(db: Database, model: str, brands: list[str], *,
                 catalogue: Path | None = None, run_id: str | None = None,
                 **options: Any) -> RunSettings:
    """Settings of a new run over registered brands; `options` are RunSettings fields (None:
    the field's default). A recommender needs the alliance catalogue (its size)."""
    if not brands or len(set(brands)) != len(brands):
        raise InputError("give each brand once (--brands a,b,c)", column="--brands")
    with db.reading() as session:
        known = set(session.scalars(select(Brand.id).where(Brand.id.in_(brands))))
    unknown = [b for b in brands if b not in known]
    if unknown:
        raise NotFoundError(f"brands not registered: {', '.join(unknown)} (comity brand add)")
    names = {f.name for f in fields(RunSettings)}
    chosen = {k: v for k, v in options.items() if v is not None}
    bad = set(chosen) - names
    if bad:
        raise InputError(f"unknown run settings: {', '.join(sorted(bad))}")
    if model == "recommend":
        if catalogue is None:
            raise InputError("a recommendation run needs the alliance catalogue",
                             column="--catalogue")
        chosen["items"] = len(load_catalogue(catalogue))
    try:
        return RunSettings(run_id=run_id or str(uuid.uuid4()), brands=tuple(brands),
                           consent_as_of=utcnow().isoformat(), model=model, **chosen)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def train_in_simulation(settings: RunSettings, db: Database, nodes: Mapping[str, Path], *,
                        strategy: str = "fedavg", progress: ProgressFn | None = None
                        ) -> TrainResult:
    """The same ServerApp and ClientApp in Flower's simulation runtime, each virtual node
    reading its brand's own node config."""
    missing = [b for b in settings.brands if b not in nodes]
    if missing:
        raise InputError(f"no node config for brands {missing} (--node-config)",
                         column="--node-config")
    from federation.brand.node import set_simulation_nodes
    from federation.runtime.simulation import simulate  # Ray and torch: only for simulation

    set_simulation_nodes({b: nodes[b] for b in settings.brands})
    outcome = simulate(settings, db, strategy=strategy, progress=progress)
    return TrainResult(outcome.run_id, "completed", len(outcome.rounds),
                       outcome.model_version, outcome.final)


def run_config(settings: RunSettings, strategy: str) -> dict[str, Any]:
    """The run's settings as `flwr run --run-config` overrides (kebab-case keys)."""
    d = asdict(settings)
    d["brands"] = ",".join(settings.brands)
    return {**{k.replace("_", "-"): v for k, v in d.items()}, "strategy": strategy}


def flwr_home(explicit: Path | None = None) -> Path:
    return explicit or Path(os.environ.get("FLWR_HOME", Path.home() / ".flwr"))


def superlink_address(home: Path, federation: str) -> str:
    path = home / "config.toml"
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        return str(config["superlink"][federation]["address"])
    except FileNotFoundError:
        raise InputError("no Flower config (the federation's SuperLink address)",
                         file=str(path)) from None
    except (KeyError, TypeError, tomllib.TOMLDecodeError):
        raise InputError(f"no address for federation '{federation}'", file=str(path),
                         column=f"superlink.{federation}.address") from None


def check_reachable(address: str, timeout: float = 3.0) -> None:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise FederationError(f"the SuperLink at {address} is not up ({type(exc).__name__})",
                              status_code=503) from None


def _rounds_done(db: Database, run_id: str) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(TrainingRound).where(
            TrainingRound.run_id == run_id)) or 0)


def _result(db: Database, run_id: str) -> TrainResult:
    with db.reading() as session:
        run = session.get(TrainingRun, run_id)
        if run is None:
            return TrainResult(run_id, "not started", 0, None, {},
                               "the ServerApp never recorded the run")
        mv = session.scalar(select(ModelVersion.version).where(ModelVersion.run_id == run_id))
        failures = session.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "training.failed").order_by(AuditEvent.seq.desc()).limit(100))
        reason = next((d.get("reason") for d in failures if d.get("run_id") == run_id), None)
        return TrainResult(run_id, run.status, run.rounds, mv,
                           dict((run.metrics or {}).get("final") or {}), reason)


def train_on_deployment(settings: RunSettings, db: Database, *, strategy: str = "fedavg",
                        app_dir: Path = PROJECT_ROOT, federation: str = FEDERATION,
                        home: Path | None = None, timeout: float = 3600.0,
                        progress: ProgressFn | None = None,
                        on_output: Callable[[str], None] | None = None) -> TrainResult:
    """`flwr run` to the SuperLink, followed to the end (`--stream`); round progress comes
    from the coordinator's own lineage as rounds are checkpointed."""
    home = flwr_home(home)
    check_reachable(superlink_address(home, federation))
    proc = subprocess.Popen([executable("flwr"), *run_args(app_dir, run_config(settings,
                                                                              strategy))],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "FLWR_HOME": str(home)}, cwd=app_dir,
                            bufsize=1)
    deadline = time.monotonic() + timeout
    total = 1 if settings.item_statistics else settings.rounds
    seen = 0
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    tail: list[str] = []
    while True:
        for line in iter(proc.stdout.readline, ""):
            tail = (tail + [line])[-200:]
            if on_output:
                on_output(line.rstrip("\n"))
        done = _rounds_done(db, settings.run_id)
        if progress and done != seen:
            progress("round", done, total)
            seen = done
        if proc.poll() is not None:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise FederationError(f"run {settings.run_id} did not finish in {timeout:.0f} s")
        time.sleep(0.5)
    result = _result(db, settings.run_id)
    if proc.returncode != 0 and result.status == "completed":
        return result
    if result.status != "completed":
        reason = result.reason or "".join(tail[-20:]).strip()[-1500:]
        raise FederationError(f"run {settings.run_id} {result.status}: {reason}")
    return result
