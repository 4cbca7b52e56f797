"""Coordinator overhead: a round of our ServerApp against a bare Flower FedAvg round with the
same model, clients and data, side by side in one Flower simulation; SecAgg+ reported apart.

    python benchmarks/coordinator_bench.py [--rounds 6] [--repeats 2] [--scale 1.0] [--json OUT]

Both drive the same ClientApp (`federation.brand.client_app`) over the demo's three synthetic
brands. "Bare" is `flwr.serverapp.strategy.FedAvg.start` with nothing else. "Ours" is
`coordinator.run_federated` with SecAgg+ off: gate reports and their verification, lineage,
audit events, the wire audit on every reply and update screening. Round times are read
between consecutive rounds (training and federated evaluation both), so the one-time gate
phase of ours is reported separately. The two are interleaved `repeats` times, after one
warm-up round that fills the brands' data caches. The simulation grid polls for replies
every 2 ms instead of Flower's 100 ms, so that round times are not rounded to 100 ms steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.simulation import run_simulation

from compliance.database import Database
from federation.brand.client_app import app as client_app
from federation.coordinator.coordinator import run_federated
from federation.data.features import CHURN_FEATURES
from federation.demo import prepare_alliance
from federation.models.churn import build_model, get_weights
from federation.runtime.simulation import simulation_backend
from federation.settings import RunSettings

POLL_S = 0.002


def _gaps(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict[str, Any] = {"rounds": args.rounds, "repeats": args.repeats, "scale": args.scale,
                           "grid_poll_seconds": POLL_S}
    with tempfile.TemporaryDirectory(prefix="comity-coord-") as tmp:
        work = Path(tmp)
        os.environ["COMITY_KEY_DIR"] = str(work / "keys")
        db = Database(f"sqlite:///{work / 'comity.db'}")
        base = prepare_alliance(db, work / "silos", seed=7, scale=args.scale,
                                rounds=args.rounds)
        initial = get_weights(build_model(len(CHURN_FEATURES), base.model_kind))
        bare: list[float] = []
        ours: list[float] = []
        ours_total: list[float] = []
        secagg_total: list[float] = []

        def settings(secure: bool) -> RunSettings:
            return replace(base, run_id=str(uuid.uuid4()), secure_aggregation=secure)

        def run_bare(rounds: int) -> list[float]:
            stamps: list[float] = []

            def stamp(_r: int, _a: ArrayRecord) -> None:
                stamps.append(time.perf_counter())

            FedAvg(min_train_nodes=3, min_evaluate_nodes=3, min_available_nodes=3).start(
                grid=grid_ref[0], initial_arrays=ArrayRecord(initial), num_rounds=rounds,
                train_config=base.to_record(), evaluate_config=base.to_record(),
                evaluate_fn=stamp)
            return _gaps(stamps)

        def run_ours(secure: bool) -> tuple[list[float], float]:
            stamps: list[float] = []
            t0 = time.perf_counter()
            run_federated(grid_ref[0], settings(secure), db, strategy="fedavg",
                          context=ctx_ref[0],
                          progress=lambda _k, _d, _t: stamps.append(time.perf_counter()))
            return _gaps(stamps), time.perf_counter() - t0

        grid_ref: list[Grid] = []
        ctx_ref: list[Context] = []
        server = ServerApp()

        @server.main()
        def _main(grid: Grid, context: Context) -> None:
            # The in-memory grid polls for replies every 100 ms, which would round every
            # phase up to 100 ms steps and hide (or inflate) any real difference.
            if hasattr(grid, "pull_interval"):
                grid.pull_interval = POLL_S
            grid_ref.append(grid)
            ctx_ref.append(context)
            run_bare(1)  # warm-up: the brands prepare and cache their data
            for _ in range(args.repeats):
                bare.extend(run_bare(args.rounds))
                gaps, total = run_ours(False)
                ours.extend(gaps)
                ours_total.append(total)
                t0 = time.perf_counter()
                run_federated(grid, settings(True), db, strategy="fedavg", context=context)
                secagg_total.append(time.perf_counter() - t0)

        run_simulation(server_app=server, client_app=client_app, num_supernodes=3,
                       backend_config=simulation_backend(3))
        b, o = statistics.median(bare), statistics.median(ours)
        fixed = statistics.median(t - o * args.rounds for t in ours_total)
        out.update({
            "bare_fedavg_round_ms": round(b * 1000, 1),
            "ours_round_ms": round(o * 1000, 1),
            "ratio_ours_vs_bare": round(o / b, 3),
            "round_samples": {"bare": len(bare), "ours": len(ours)},
            "ours_run_seconds": [round(t, 2) for t in ours_total],
            "ours_fixed_per_run_seconds": round(fixed, 2),
            "secagg_run_seconds": [round(t, 2) for t in secagg_total],
            "secagg_round_ms_estimate": round(
                (statistics.median(secagg_total) - fixed) / args.rounds * 1000, 1),
        })
        out["ratio_secagg_vs_bare"] = round(out["secagg_round_ms_estimate"]
                                            / out["bare_fedavg_round_ms"], 2)
        db.dispose()
    text = json.dumps(out, indent=2)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
