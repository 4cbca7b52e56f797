"""Coordinator cost as the alliance grows: seconds per round of our ServerApp against bare
Flower at each alliance size, with and without SecAgg+, side by side in one run.

    python benchmarks/coordinator_bench.py [--brands 3,10,30] [--rounds 3] [--scale 0.1]
        [--database-url postgresql+psycopg://user:pw@host/db] [--deployment] [--json OUT]

For each size, in one Flower simulation over that many brand nodes (the product's ClientApp,
each brand its own node config, consent imported through the API):
- bare FedAvg: `flwr.serverapp.strategy.FedAvg.start`, nothing else;
- ours: `coordinator.run_federated` with SecAgg+ off (gate reports and their verification,
  lineage, one audit event per subject decision, the wire audit, update screening);
- bare SecAgg+: Flower's `SecAggPlusWorkflow` over its legacy FedAvg, nothing else;
- ours with SecAgg+: `run_federated` with SecAgg+ on.
Round times are the gaps between consecutive rounds (training and federated evaluation), so
each run's one-time gate phase is reported apart as its fixed cost. With --database-url the
coordinator's database is that PostgreSQL server (one fresh database per size). With
--deployment, three brands also run on the real deployment runtime (a SuperLink and three
SuperNodes as processes): ours via `flwr run`, bare FedAvg via a bare ServerApp in its own
Flower app, round times read from the coordinator's checkpoints and Flower's log.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg
from sqlalchemy import func, select

from api.local_server import LocalApi
from compliance.database import Database
from compliance.subjects.models import Subject
from federation.coordinator.coordinator import run_federated
from federation.coordinator.secagg import run_secagg
from federation.data.features import CHURN_FEATURES
from federation.demo import prepare_alliance
from federation.models.churn import build_model, get_weights
from federation.runtime.simulation import run_in_simulation
from federation.settings import RunSettings

POLL_S = 0.002


def _gaps(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _database(url: str | None, work: Path, name: str) -> Database:
    """A fresh coordinator database: a file for SQLite, a new database on the server."""
    if url is None:
        return Database(f"sqlite:///{work / f'{name}.db'}")
    from sqlalchemy import create_engine, text

    db_name = f"comity_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    admin.dispose()
    return Database(url.rsplit("/", 1)[0] + f"/{db_name}")


def measure_simulation(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    db = _database(args.database_url, work, f"n{n}")
    with LocalApi(db) as api:
        t0 = time.perf_counter()
        alliance = prepare_alliance(db, work / f"alliance-{n}", api_url=api.url, seed=7,
                                    scale=args.scale, rounds=args.rounds, n_brands=n)
        setup = time.perf_counter() - t0
        base = alliance.settings
        initial = get_weights(build_model(len(CHURN_FEATURES), base.model_kind))
        out: dict[str, list[float]] = {k: [] for k in (
            "bare", "ours", "bare_secagg", "ours_secagg", "ours_total", "ours_secagg_total",
            "secagg_halted")}

        def settings(secure: bool) -> RunSettings:
            return replace(base, run_id=str(uuid.uuid4()), secure_aggregation=secure)

        def main(grid: Grid, context: Context) -> None:
            if hasattr(grid, "pull_interval"):
                grid.pull_interval = POLL_S  # the 100 ms default would hide the differences

            def bare(rounds: int) -> list[float]:
                stamps: list[float] = []
                FedAvg(min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n).start(
                    grid=grid, initial_arrays=ArrayRecord(initial), num_rounds=rounds,
                    train_config=base.to_record(), evaluate_config=base.to_record(),
                    evaluate_fn=lambda _r, _a: stamps.append(time.perf_counter()))
                return _gaps(stamps)

            def bare_secagg(rounds: int) -> list[float]:
                stamps = [time.perf_counter()]
                weights = initial
                for r in range(1, rounds + 1):
                    summed = run_secagg(grid, context, initial=weights, n_brands=n,
                                        server_round=r, config=dict(base.to_record()))
                    if summed is None:  # a share holder was lost: say so, do not hide it
                        out["secagg_halted"].append(float(r))
                        return []
                    weights = summed[0]
                    stamps.append(time.perf_counter())
                return _gaps(stamps)

            def ours(secure: bool) -> tuple[list[float], float]:
                stamps: list[float] = []
                t = time.perf_counter()
                run_federated(grid, settings(secure), db, context=context,
                              progress=lambda _k, _d, _t: stamps.append(time.perf_counter()))
                return _gaps(stamps), time.perf_counter() - t

            bare(1)  # warm-up: every brand prepares and caches its rows
            for _ in range(args.repeats):
                out["bare"] += bare(args.rounds)
                gaps, total = ours(False)
                out["ours"] += gaps
                out["ours_total"].append(total)
                out["bare_secagg"] += bare_secagg(args.rounds)
                if out["secagg_halted"]:
                    continue
                gaps, total = ours(True)
                out["ours_secagg"] += gaps
                out["ours_secagg_total"].append(total)

        run_in_simulation(main, n_nodes=n, what=f"the {n}-brand benchmark")
    with db.reading() as session:
        customers = int(session.scalar(select(func.count()).select_from(Subject)) or 0)
    db.dispose()
    med = {k: statistics.median(v) for k, v in out.items() if v}
    return {
        "brands": n, "customers": customers,
        "setup_seconds": round(setup, 1),
        "bare_fedavg_round_s": round(med["bare"], 3),
        "ours_round_s": round(med["ours"], 3),
        "ratio_ours_vs_bare": round(med["ours"] / med["bare"], 3),
        "ours_fixed_per_run_s": round(med["ours_total"] - med["ours"] * args.rounds, 2),
        **({"bare_secagg_halted_in_round": int(out["secagg_halted"][0])}
           if out["secagg_halted"] else {
            "bare_secagg_round_s": round(med["bare_secagg"], 3),
            "ours_secagg_round_s": round(med["ours_secagg"], 3),
            "ratio_secagg_ours_vs_bare": round(med["ours_secagg"] / med["bare_secagg"], 3),
            "ours_secagg_fixed_per_run_s": round(
                med["ours_secagg_total"] - med["ours_secagg"] * args.rounds, 2)}),
    }


BARE_APP = '''"""A bare Flower ServerApp: FedAvg over the comity ClientApp, nothing else."""
import json, os, time
from flwr.app import ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    with open(cfg["settings"]) as fh:
        settings = json.load(fh)
    from federation.data.features import CHURN_FEATURES
    from federation.models.churn import build_model, get_weights
    arrays = ArrayRecord(get_weights(build_model(len(CHURN_FEATURES), "mlp")))
    stamps = []
    n = int(cfg["brands"])
    FedAvg(min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n).start(
        grid=grid, initial_arrays=arrays, num_rounds=int(cfg["rounds"]),
        train_config=ConfigRecord(settings), evaluate_config=ConfigRecord(settings),
        evaluate_fn=lambda _r, _a: stamps.append(time.time()))
    with open(cfg["out"], "w") as fh:
        json.dump(stamps, fh)
'''


def measure_deployment(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Three brands on the real runtime: ours (with and without SecAgg+) by `flwr run`,
    bare FedAvg by a bare ServerApp of its own Flower app over the same SuperNodes."""
    from federation.coordinator.lineage.models import TrainingRound
    from federation.runtime.certificates import make_certificates
    from federation.runtime.deployment import LocalDeployment
    from federation.runtime.training import run_config

    root = Path(__file__).resolve().parents[1]
    db = _database(args.database_url, work, "deploy")
    keys = work / "deploy-keys"
    os.environ["COMITY_KEY_DIR"] = str(keys)
    out: dict[str, Any] = {"brands": 3, "runtime": "deployment"}
    with LocalApi(db) as api:
        alliance = prepare_alliance(db, work / "alliance-deploy", api_url=api.url, seed=7,
                                    scale=args.scale, rounds=args.rounds, n_brands=3)
        certs = make_certificates(work / "certs", hosts=["localhost", "127.0.0.1"])
        bare_dir = work / "bare-app"
        bare_dir.mkdir()
        (bare_dir / "bare_server.py").write_text(BARE_APP)
        (bare_dir / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = '
            '"setuptools.build_meta"\n\n[project]\nname = "bare"\nversion = "0.1.0"\n\n'
            '[tool.flwr.app]\npublisher = "bench"\n\n[tool.flwr.app.components]\n'
            'serverapp = "bare_server:app"\nclientapp = "federation.brand.client_app:app"\n\n'
            '[tool.flwr.app.config]\nsettings = ""\nbrands = 3\nrounds = 1\nout = ""\n')
        with LocalDeployment(work / "deploy", alliance.configs, certificates=certs,
                             node_auth=True,
                             coordinator_env={"COMITY_DATABASE_URL": db.url,
                                              "COMITY_KEY_DIR": str(keys)}) as dep:
            for secure in (False, True):
                settings = replace(alliance.settings, run_id=str(uuid.uuid4()),
                                   secure_aggregation=secure)
                t = time.perf_counter()
                dep.run(root, run_config(settings, "fedavg"), timeout=1800)
                total = time.perf_counter() - t
                with db.reading() as s:
                    done = sorted(r.completed_at.timestamp() for r in s.query(TrainingRound)
                                  .filter(TrainingRound.run_id == settings.run_id))
                gaps = _gaps(done)
                key = "ours_secagg" if secure else "ours"
                out[f"{key}_round_s"] = round(statistics.median(gaps), 3)
                out[f"{key}_run_s"] = round(total, 1)
            stamps_file = work / "bare-stamps.json"
            settings_file = work / "bare-settings.json"
            settings_file.write_text(json.dumps(dict(alliance.settings.to_record())))
            t = time.perf_counter()
            dep.run(bare_dir, {"settings": str(settings_file), "brands": 3,
                               "rounds": args.rounds, "out": str(stamps_file)}, timeout=1800)
            out["bare_run_s"] = round(time.perf_counter() - t, 1)
            out["bare_fedavg_round_s"] = round(statistics.median(
                _gaps(json.loads(stamps_file.read_text()))), 3)
    out["ratio_ours_vs_bare"] = round(out["ours_round_s"] / out["bare_fedavg_round_s"], 3)
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brands", default="3", help="alliance sizes, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--scale", type=float, default=0.1, help="customers per brand x")
    ap.add_argument("--database-url", help="PostgreSQL server URL (default: SQLite files)")
    ap.add_argument("--deployment", action="store_true",
                    help="also three brands on the real deployment runtime")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    say: Callable[[str], None] = lambda m: print(m, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="comity-coord-") as tmp:
        work = Path(tmp)
        os.environ["COMITY_KEY_DIR"] = str(work / "keys")
        for n in (int(x) for x in args.brands.split(",")):
            say(f"simulation, {n} brands ...")
            results.append({"runtime": "simulation", **measure_simulation(n, args, work)})
            say(json.dumps(results[-1]))
        if args.deployment:
            say("deployment, 3 brands ...")
            results.append(measure_deployment(args, work))
            say(json.dumps(results[-1]))
    text = json.dumps({"rounds": args.rounds, "repeats": args.repeats, "scale": args.scale,
                       "database": "postgresql" if args.database_url else "sqlite",
                       "results": results}, indent=2)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
