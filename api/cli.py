"""The `comity` command line. Each command parses, calls one service, prints."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compliance.errors import ComityError

app = typer.Typer(help="comity: federated models across brands, with privacy and compliance.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
err = Console(stderr=True)


def _fail(exc: ComityError) -> None:
    err.print(f"[bold red]error:[/] {exc.message}")
    raise typer.Exit(code=2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.json/.html")],
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data and training")] = 7,
    rounds: Annotated[int, typer.Option(min=1, max=200, help="Federated rounds")] = 8,
    scale: Annotated[float, typer.Option(min=0.01, max=20.0, help="Customers x")] = 1.0,
    keep_silos: Annotated[Path | None, typer.Option(
        help="Keep the brands' generated raw data here (contains synthetic PII)")] = None,
) -> None:
    """Run the main job on the embedded default database and write the DPO report."""
    from compliance.database import Database
    from federation.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    console = Console(stderr=True)
    try:
        db = Database()
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            steps = bar.add_task("comity demo", total=5)
            rounds_task = bar.add_task("federated rounds", total=rounds, visible=False)

            def step(text: str) -> None:
                bar.update(steps, advance=0 if bar.tasks[steps].description == "comity demo"
                           else 1, description=text)

            def progress(_kind: str, done: int, total: int) -> None:
                bar.update(rounds_task, completed=done, total=total, visible=True)

            result = run_demo(out, db=db, seed=seed, rounds=rounds, scale=scale,
                              keep_silos=keep_silos, step=step, progress=progress)
            bar.update(steps, completed=5, description="done")
    except ComityError as exc:
        _fail(exc)
        return
    final = result.outcome.final
    console.print(f"[green]report:[/] {result.paths['json']}  {result.paths['html']}")
    console.print(f"federated churn AUC {final.get('auc', float('nan')):.3f} over "
                  f"{len(result.outcome.lineage)} brands; audit chain verified: "
                  f"{result.report['audit']['verified']}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8080,
) -> None:
    """Serve the API on the embedded default (or COMITY_DATABASE_URL)."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and name the first bad event if it is broken."""
    from compliance.audit.service import AuditLog
    from compliance.database import Database

    with Database().unit_of_work() as session:
        res = AuditLog(session).verify()
    print(json.dumps({"verified": res.verified, "events": res.events, "head": res.head_hash,
                      "first_bad_seq": res.first_bad_seq, "problem": res.problem}))
    if not res.verified:
        raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (the embedded default migrates itself on first use)."""
    from compliance.database import database_url, ensure_schema

    try:
        ensure_schema(database_url())
    except ComityError as exc:
        _fail(exc)
    print("schema at head")


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="comity")
