"""Commands of federated work run by the operator: the demo and the benchmarks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from api.cli.console import err, reports_errors
from api.composition import default_services

DEMO_STEPS = 9


@reports_errors(ValueError)
def bench(
    task: Annotated[str, typer.Argument(
        metavar="TASK", help="What to benchmark: churn (AUC) or recommend (HR@10, NDCG@10)")],
    data: Annotated[str, typer.Option(help="telco, movielens, or a CSV/Parquet path or "
                                           "'<sqlalchemy-url>#<table>'")],
    json_out: Annotated[Path, typer.Option("--json", help="Write the results here")],
    brands: Annotated[int, typer.Option(min=2, max=50, help="Brands to partition the data "
                                                           "into (non-IID, seeded)")] = 5,
    seed: Annotated[int | None, typer.Option(help="One seed (shorthand for --seeds N)")
                    ] = None,
    seeds: Annotated[str | None, typer.Option(help="Seeds to run and summarise (mean and "
                                                    "95% interval), e.g. 0,1,2 (default)")
                     ] = None,
    alpha: Annotated[float, typer.Option(min=0.01, help="Dirichlet non-IID skew")] = 0.5,
    rounds: Annotated[int | None, typer.Option(min=1, help="Federated rounds")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Centralized/local epochs")] = None,
    model: Annotated[str, typer.Option(help="churn: auto (chosen by federated validation), "
                                            "logistic, mlp or trees")] = "auto",
    strategy: Annotated[str, typer.Option(help="fedavg, fedprox, trimmed-mean, median")
                        ] = "fedavg",
    epsilon: Annotated[float | None, typer.Option(min=0.01, help="DP target epsilon")] = None,
    delta: Annotated[float, typer.Option(help="DP delta")] = 1e-5,
    id_col: Annotated[str | None, typer.Option(help="Customer table: the id column")] = None,
    label_col: Annotated[str | None, typer.Option(help="Customer table: the label column")
                         ] = None,
    positive: Annotated[str | None, typer.Option(help="Label value meaning positive")] = None,
    customer_col: Annotated[str | None, typer.Option(
        help="Transaction log: the customer column")] = None,
    time_col: Annotated[str | None, typer.Option(help="Transaction log: the time column")
                        ] = None,
    item_col: Annotated[str | None, typer.Option(help="Transaction log: the item column")
                        ] = None,
    amount_col: Annotated[str | None, typer.Option(
        help="Transaction log: the amount column (optional)")] = None,
    time_format: Annotated[str | None, typer.Option(help="strftime pattern or 'unix'")] = None,
    cutoff: Annotated[str | None, typer.Option(help="Churn cutoff date (YYYY-MM-DD)")] = None,
    horizon_days: Annotated[int, typer.Option(
        min=1, help="Churn: no purchase within this many days after the cutoff")] = 90,
) -> None:
    """Centralized, local-only, federated and federated-with-DP, beside strong pooled
    baselines, on one seeded split per seed; chosen on validation, scored once on test.
    Every option is checked before any data is read.
    Example: comity bench churn --data telco --brands 5 --seeds 0,1,2 --json bench.json"""
    from compliance.errors import InputError
    from compliance.files import write_atomically
    from federation.bench.harness import BenchOptions, run_bench
    from federation.bench.protocol import parse_seeds

    if seed is not None and seeds is not None:
        raise InputError("give --seed or --seeds, not both", column="--seeds")
    chosen_seeds = (parse_seeds(seeds) if seeds is not None
                    else (seed,) if seed is not None else (0, 1, 2))

    if not json_out.parent.is_dir():
        raise InputError("no such directory for the results", file=str(json_out),
                         column="--json")
    opts = BenchOptions.for_task(
        task, data=data, brands=brands, seed=chosen_seeds[0], seeds=chosen_seeds,
        alpha=alpha, rounds=rounds, epochs=epochs,
        model=model, strategy=strategy, epsilon=epsilon, delta=delta, id_col=id_col,
        label_col=label_col, positive=positive, customer_col=customer_col, time_col=time_col,
        item_col=item_col, amount_col=amount_col, time_format=time_format, cutoff=cutoff,
        horizon_days=horizon_days)
    result = run_bench(task, opts, progress=lambda m: err.print(f"[dim]bench {task}:[/] {m}"))
    write_atomically(json_out, json.dumps(result, indent=2).encode())
    metric = "auc" if task == "churn" else "hr10"
    rows: list[tuple[str, Any, Any]] = [(name, result[name], result["ci95"][name]) for name in (
        "centralized", "local_only", "popularity", "federated", "federated_dp")
        if name in result]
    rows += [(f"pooled {name}", b, result["ci95"]["baselines"][name])
             for name, b in result["baselines"].items() if "metrics" in b]
    for name, figures, ci in rows:
        interval = ci["metrics"][metric]
        err.print(f"{name:>26}: {metric} {figures['metrics'][metric]:.4f}"
                  + (f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""))
    strongest = result["strongest_pooled"]
    err.print(f"{'strongest pooled':>26}: {strongest['name']} (chosen on validation)")


class RoundBars:
    """One bar per kind of progress ("churn round", "recommender round"), each with its own
    total: the demo's two models never share a bar."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.tasks = bar, dict[str, TaskID]()

    def __call__(self, kind: str, done: int, total: int) -> None:
        if kind not in self.tasks:
            self.tasks[kind] = self.bar.add_task(f"federated {kind}s", total=total)
        self.bar.update(self.tasks[kind], completed=done, total=total)


@reports_errors()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.json/.html")],
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data and training")] = 7,
    rounds: Annotated[int, typer.Option(min=1, max=200, help="Federated rounds")] = 8,
    scale: Annotated[float, typer.Option(min=0.01, max=20.0, help="Customers x")] = 1.0,
    epsilon: Annotated[float, typer.Option(min=0.0, max=50.0, help=(
        "DP-SGD target epsilon per brand (customer-level, delta 1e-5); 0 trains without "
        "DP"))] = 3.0,
    keep_silos: Annotated[Path | None, typer.Option(
        help="Keep the brands' generated raw data here (contains synthetic PII)")] = None,
) -> None:
    """Run the main job on the embedded default database and write the DPO report. The
    coordinator's API is served from this process on loopback; the brand nodes reach it as
    they would in a deployment.
    Example: comity demo --out demo-out"""
    from api.local_server import LocalApi
    from federation.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    db = default_services().db
    with LocalApi(db) as api, Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err, transient=False) as bar:
        steps = bar.add_task("comity demo", total=DEMO_STEPS)
        progress = RoundBars(bar)

        def step(text: str) -> None:
            bar.update(steps, advance=0 if bar.tasks[steps].description == "comity demo"
                       else 1, description=text)

        result = run_demo(out, db=db, api_url=api.url, seed=seed, rounds=rounds,
                          scale=scale, epsilon=epsilon, keep_silos=keep_silos, step=step,
                          progress=progress)
        bar.update(steps, completed=DEMO_STEPS, description="done")
    _print_demo(result)


def _print_demo(result: Any) -> None:
    final = result.outcome.final
    err.print(f"[green]report:[/] {result.paths['json']}  {result.paths['html']}  "
              f"{result.paths['pdf']}")
    err.print(f"federated churn AUC {final.get('auc', float('nan')):.3f} over "
              f"{len(result.outcome.lineage)} brands; audit chain verified: "
              f"{result.report['audit']['verified']}")
    rec = result.recommender.final
    err.print(f"federated recommender HR@10 {rec.get('hr10', float('nan')):.3f}, NDCG@10 "
              f"{rec.get('ndcg10', float('nan')):.3f} (leave-last-out, full catalogue)")
    runs = {r["run_id"]: r for r in result.report["training_runs"]}
    dp = (runs.get(result.outcome.run_id) or {}).get("dp")
    rec_run = runs.get(result.recommender.run_id) or {}
    rec_dp = rec_run.get("dp")
    if dp:
        err.print(f"churn: DP-SGD at every brand, epsilon {dp['epsilon']:.2f}, delta "
                  f"{dp['delta']:g} (Opacus RDP accountant, customer-level)")
    if rec_dp:
        via = "through" if rec_run.get("secure_aggregation") else "without"
        err.print(f"recommender: DP item statistics {via} SecAgg+, epsilon "
                  f"{rec_dp['epsilon']:.2f}, delta {rec_dp['delta']:g} (Opacus PRV "
                  "accountant, customer-level); non-personalized list HR@10 "
                  f"{rec.get('hr10_nonpersonalized', float('nan')):.3f}")
    err.print("DPO checklist: " + ", ".join(
        f"{n} {k.replace('_', ' ')}" for k, n in result.report["checklist"]["summary"].items()))
    for item in result.aggregates:
        q = item["query"]
        what = f"{q['measure']} {q.get('column') or ''} by {q.get('group_by') or '-'}"
        if "answer" in item:
            values = ", ".join(
                f"{'/'.join(map(str, g['key'].values())) or 'all'}={g['value']:.1f}"
                + (f" [{g['ci95'][0]:.0f}, {g['ci95'][1]:.0f}]" if g["ci95"] else "")
                for g in item["answer"]["groups"])
            err.print(f"DP aggregate ({what}, eps {q['epsilon']}): {values}")
        else:
            err.print(f"DP aggregate ({what}, eps {q['epsilon']}): refused, "
                      f"{item['epsilon_remaining']:g} left")
