"""The `comity` command line. Each command parses, calls one service, prints."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compliance.errors import ComityError

if TYPE_CHECKING:
    from privacy.aggregates.service import AggregateService

app = typer.Typer(help="comity: federated models across brands, with privacy and compliance.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
pii_app = typer.Typer(help="PII detection and anonymization.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention sweeps.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(retention_app, name="retention")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(pii_app, name="pii")
dataset_app = typer.Typer(help="Datasets registered for DP aggregates.", no_args_is_help=True)
budget_app = typer.Typer(help="Privacy budgets for DP aggregates.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
app.add_typer(budget_app, name="budget")
err = Console(stderr=True)


def _fail(exc: ComityError) -> None:
    err.print(f"[bold red]error:[/] {exc.message}")
    raise typer.Exit(code=2)


@app.command()
def bench(
    task: Annotated[str, typer.Argument(help="churn or recommend")],
    data: Annotated[str, typer.Option(help="telco, movielens, or a CSV/Parquet path or "
                                           "'<sqlalchemy-url>#<table>'")],
    json_out: Annotated[Path, typer.Option("--json", help="Write the results here")],
    brands: Annotated[int, typer.Option(min=2, max=50)] = 5,
    seed: Annotated[int, typer.Option()] = 0,
    alpha: Annotated[float, typer.Option(min=0.01, help="Dirichlet non-IID skew")] = 0.5,
    rounds: Annotated[int | None, typer.Option(min=1, help="Federated rounds")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Centralized/local epochs")] = None,
    model: Annotated[str, typer.Option(help="churn: logistic or mlp")] = "mlp",
    strategy: Annotated[str, typer.Option(help="fedavg, fedprox, trimmed-mean, median")
                        ] = "fedavg",
    epsilon: Annotated[float | None, typer.Option(min=0.01, help="DP target epsilon")] = None,
    delta: Annotated[float, typer.Option(help="DP delta")] = 1e-5,
    id_col: Annotated[str | None, typer.Option()] = None,
    label_col: Annotated[str | None, typer.Option()] = None,
    positive: Annotated[str | None, typer.Option(help="Label value meaning positive")] = None,
    customer_col: Annotated[str | None, typer.Option()] = None,
    time_col: Annotated[str | None, typer.Option()] = None,
    item_col: Annotated[str | None, typer.Option()] = None,
    amount_col: Annotated[str | None, typer.Option()] = None,
    time_format: Annotated[str | None, typer.Option(help="strftime pattern or 'unix'")] = None,
    cutoff: Annotated[str | None, typer.Option(help="Churn cutoff date (YYYY-MM-DD)")] = None,
    horizon_days: Annotated[int, typer.Option(min=1)] = 90,
) -> None:
    """Centralized, local-only, federated and federated-with-DP on one seeded split."""
    from federation.harness import BenchOptions, bench_churn, bench_recommend

    if task not in ("churn", "recommend"):
        _fail(ComityError(f"unknown bench '{task}' (churn or recommend)"))
        return
    defaults = ({"rounds": 30, "epochs": 30, "epsilon": 3.0, "lr": 0.01} if task == "churn"
                else {"rounds": 20, "epochs": 20, "epsilon": 8.0, "lr": 0.01})
    opts = BenchOptions(
        data=data, brands=brands, seed=seed, alpha=alpha,
        rounds=rounds or int(defaults["rounds"]), epochs=epochs or int(defaults["epochs"]),
        model=model, strategy=strategy, epsilon=epsilon or float(defaults["epsilon"]),
        delta=delta, lr=float(defaults["lr"]), id_col=id_col, label_col=label_col,
        positive=positive, customer_col=customer_col, time_col=time_col, item_col=item_col,
        amount_col=amount_col, time_format=time_format, cutoff=cutoff,
        horizon_days=horizon_days)
    console = Console(stderr=True)
    try:
        run = bench_churn if task == "churn" else bench_recommend
        result = run(opts, progress=lambda m: console.print(f"[dim]bench {task}:[/] {m}"))
    except (ComityError, ValueError) as exc:
        _fail(exc if isinstance(exc, ComityError) else ComityError(str(exc)))
        return
    json_out.write_text(json.dumps(result, indent=2))
    metric = "auc" if task == "churn" else "hr10"
    for name in ("centralized", "local_only", "popularity", "federated", "federated_dp"):
        if name in result:
            console.print(f"{name:>13}: {metric} {result[name]['metrics'][metric]:.4f}")


@app.command()
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
            steps = bar.add_task("comity demo", total=9)
            rounds_task = bar.add_task("federated rounds", total=rounds, visible=False)

            def step(text: str) -> None:
                bar.update(steps, advance=0 if bar.tasks[steps].description == "comity demo"
                           else 1, description=text)

            def progress(_kind: str, done: int, total: int) -> None:
                bar.update(rounds_task, completed=done, total=total, visible=True)

            result = run_demo(out, db=db, seed=seed, rounds=rounds, scale=scale, epsilon=epsilon,
                              keep_silos=keep_silos, step=step, progress=progress)
            bar.update(steps, completed=9, description="done")
    except ComityError as exc:
        _fail(exc)
        return
    final = result.outcome.final
    console.print(f"[green]report:[/] {result.paths['json']}  {result.paths['html']}  "
                  f"{result.paths['pdf']}")
    console.print(f"federated churn AUC {final.get('auc', float('nan')):.3f} over "
                  f"{len(result.outcome.lineage)} brands; audit chain verified: "
                  f"{result.report['audit']['verified']}")
    rec = result.recommender.final
    console.print(f"federated recommender HR@10 {rec.get('hr10', float('nan')):.3f}, NDCG@10 "
                  f"{rec.get('ndcg10', float('nan')):.3f} (leave-last-out, full catalogue)")
    runs = {r["run_id"]: r for r in result.report["training_runs"]}
    dp = (runs.get(result.outcome.run_id) or {}).get("dp")
    rec_run = runs.get(result.recommender.run_id) or {}
    rec_dp = rec_run.get("dp")
    if dp:
        console.print(f"churn: DP-SGD at every brand, epsilon {dp['epsilon']:.2f}, delta "
                      f"{dp['delta']:g} (Opacus RDP accountant, customer-level)")
    if rec_dp:
        via = "through" if rec_run.get("secure_aggregation") else "without"
        console.print(f"recommender: DP item statistics {via} SecAgg+, epsilon "
                      f"{rec_dp['epsilon']:.2f}, delta {rec_dp['delta']:g} (Opacus PRV "
                      "accountant, customer-level); non-personalized list HR@10 "
                      f"{rec.get('hr10_nonpersonalized', float('nan')):.3f}")
    console.print("DPO checklist: " + ", ".join(
        f"{n} {k.replace('_', ' ')}" for k, n in result.report["checklist"]["summary"].items()))
    for item in result.aggregates:
        q = item["query"]
        what = f"{q['measure']} {q.get('column') or ''} by {q.get('group_by') or '-'}"
        if "answer" in item:
            ans = item["answer"]
            values = ", ".join(
                f"{'/'.join(map(str, g['key'].values())) or 'all'}={g['value']:.1f}"
                + (f" [{g['ci95'][0]:.0f}, {g['ci95'][1]:.0f}]" if g["ci95"] else "")
                for g in ans["groups"])
            console.print(f"DP aggregate ({what}, eps {q['epsilon']}): {values}")
        else:
            console.print(f"DP aggregate ({what}, eps {q['epsilon']}): refused, "
                          f"{item['epsilon_remaining']:g} left")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve the API on the embedded default (or COMITY_DATABASE_URL)."""
    import uvicorn

    from compliance.database import Database

    Database().dispose()  # migrate once, before the workers start
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


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


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return None


def _with_progress(label: str, total: int | None, run):  # type: ignore[no-untyped-def]
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}"),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(label, total=total)
        return run(lambda n: bar.advance(task, n))


@pii_app.command("scan")
def pii_scan(
    input: Annotated[Path, typer.Option("--input", help="JSONL lines {id, text}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL lines {id, entities}")],
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
) -> None:
    """Detect PII in free text; offsets are Python string indices."""
    from privacy.detection.analyzer import PiiScanner
    from privacy.detection.service import scan_jsonl

    try:
        scanner = PiiScanner(threshold=threshold)
        n = _with_progress("pii scan", _count_lines(input),
                           lambda p: scan_jsonl(input, output, scanner, p))
    except ComityError as exc:
        _fail(exc)
        return
    err.print(f"scanned {n} records -> {output}")


@pii_app.command("redact")
def pii_redact(
    input: Annotated[Path, typer.Option("--input", help="JSONL lines {id, text}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL lines {id, text, entities}")],
    operator: Annotated[str, typer.Option(help="mask | redact | pseudonym | encrypt")] = "mask",
    brand: Annotated[str, typer.Option(help="Brand whose key pseudonymizes/encrypts")] =
    "default",
) -> None:
    """Replace detected PII with masks, type tags, keyed pseudonyms or AES-GCM tokens."""
    from privacy.anonymize import make_operator
    from privacy.detection.analyzer import PiiScanner
    from privacy.detection.service import redact_jsonl

    try:
        op = make_operator(operator, brand_id=brand)
    except ValueError as exc:
        _fail(ComityError(str(exc)))
        return
    try:
        n = _with_progress("pii redact", _count_lines(input),
                           lambda p: redact_jsonl(input, output, PiiScanner(), op, p))
    except ComityError as exc:
        _fail(exc)
        return
    err.print(f"redacted {n} records -> {output}")


@pii_app.command("scan-table")
def pii_scan_table(
    input: Annotated[Path | None, typer.Option("--input", help="CSV or Parquet file")] = None,
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of a database")] = None,
    table: Annotated[str | None, typer.Option(help="Table name, with --url")] = None,
    sample: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Classify each column of a table by PII type, with confidence and sample counts."""
    from privacy.detection.analyzer import PiiScanner
    from privacy.detection.table import classify_columns, read_table

    try:
        frame = read_table(input, url=url, table=table)
    except ComityError as exc:
        _fail(exc)
        return
    found = classify_columns(frame, PiiScanner(), sample=sample, seed=seed)
    print(json.dumps({"rows": len(frame), "columns": [c.as_dict() for c in found]},
                     ensure_ascii=False, indent=2))


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="dpo | admin | brand:<id> | service:<name>")],
    label: Annotated[str, typer.Option(help="Who holds it")] = "",
) -> None:
    """Create a token; prints it alone on stdout (only its hash is stored)."""
    from compliance.database import Database
    from compliance.tokens.service import TokenService

    try:
        with Database().unit_of_work() as session:
            token = TokenService(session).create(role, label)
    except ComityError as exc:
        _fail(exc)
        return
    print(token)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the Merkle root of all events since the last checkpoint (Ed25519)."""
    from compliance.audit.service import AuditLog
    from compliance.database import Database

    with Database().unit_of_work() as session:
        cp = AuditLog(session).checkpoint()
        out = None if cp is None else {"first_seq": cp.first_seq, "last_seq": cp.last_seq,
                                       "merkle_root": cp.merkle_root}
    print(json.dumps({"checkpoint": out}))


@audit_app.command("privacy")
def audit_privacy(
    run_id: Annotated[str, typer.Argument(help="Training run id (see the report)")],
    silo_root: Annotated[Path, typer.Option(help="Directory holding one silo per brand, as "
                                                 "the run read them")],
) -> None:
    """Membership-inference audit of a run's model (loss threshold and black box); the
    findings go into the audit log and the DPO report."""
    from compliance.database import Database
    from federation.privacy_audit import audit_run

    try:
        findings = audit_run(Database(), run_id, silo_root, actor="cli")
    except ComityError as exc:
        _fail(exc)
        return
    print(json.dumps(findings, indent=2))


@audit_app.command("proof")
def audit_proof(seq: Annotated[int, typer.Argument(min=1, help="Event sequence number")],
                out: Annotated[Path | None, typer.Option(help="Write the proof here")] = None
                ) -> None:
    """Export an inclusion proof for one event (verifiable offline)."""
    from compliance.audit.service import AuditLog
    from compliance.database import Database

    try:
        with Database().unit_of_work() as session:
            proof = AuditLog(session).proof(seq)
    except ComityError as exc:
        _fail(exc)
        return
    text = json.dumps(proof, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        print(text)


@retention_app.command("sweep")
def retention_sweep(
    batch: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
    every: Annotated[str | None, typer.Option(
        help="Run again at this interval until stopped (e.g. 24h, 30m); one run if absent")
                     ] = None,
    max_runs: Annotated[int, typer.Option(min=0, help="With --every: stop after N runs "
                                                      "(0: never)")] = 0,
) -> None:
    """Apply policies/retention.yaml now (or on a schedule); safe to interrupt and re-run.
    Prints one JSON line per run."""
    from compliance.database import Database
    from compliance.policy.loader import load_policies
    from compliance.retention.schedule import parse_interval, run_every
    from compliance.retention.service import RetentionService

    try:
        seconds = parse_interval(every) if every is not None else 0
    except ComityError as exc:
        _fail(exc)
        return
    svc = RetentionService(Database(), load_policies(), actor="cli")

    def once() -> None:
        with Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.completed}"),
                      TimeElapsedColumn(), console=err, transient=every is not None) as bar:
            task = bar.add_task("retention sweep", total=None)
            report = svc.sweep(batch=batch, progress=lambda _k, n: bar.advance(task, n))
        print(json.dumps({"started_at": report.started_at.isoformat(),
                          "actions": report.actions, "batches": report.batches,
                          "still_overdue": svc.overdue()}), flush=True)

    if every is None:
        once()
        return
    try:
        run_every(once, seconds, max_runs)
    except KeyboardInterrupt:
        err.print("retention schedule stopped")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Create a new master key version and re-wrap every subject data key under it."""
    from compliance.database import Database
    from privacy.keys import new_master_version
    from privacy.vault.service import Vault

    version = new_master_version()
    with Database().unit_of_work() as session:
        n = Vault(session).rotate()
    print(json.dumps({"master_version": version, "rewrapped": n}))


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ComityError(f"{option} '{item}': expected COLUMN=VALUE")
        out[key] = value
    return out


def _bounds(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for col, text in _pairs(items, "--bounds").items():
        lo, sep, hi = text.partition(":")
        try:
            out[col] = (float(lo), float(hi))
        except ValueError:
            raise ComityError(f"--bounds {col}={text}: expected LOW:HIGH numbers") from None
        if not sep:
            raise ComityError(f"--bounds {col}={text}: expected LOW:HIGH")
    return out


def _aggregates() -> AggregateService:
    from api.app import aggregate_service
    from compliance.database import Database
    from compliance.policy.loader import load_policies

    return aggregate_service(Database(), load_policies())


@dataset_app.command("register")
def dataset_register(
    name: Annotated[str, typer.Argument(help="Dataset name used in queries")],
    unit_col: Annotated[str, typer.Option(help="Column identifying one customer (the "
                                               "privacy unit)")],
    bounds: Annotated[list[str], typer.Option(help="COL=LOW:HIGH, public clipping bounds "
                                                   "(repeat)")] = [],  # noqa: B006
    categories: Annotated[list[str], typer.Option(help="COL=a,b,c, the public key set of a "
                                                       "text column (repeat)")] = [],  # noqa: B006
    data_category: Annotated[list[str], typer.Option(help="COL=CATEGORY from "
                                                          "policies/data_categories.yaml")
                             ] = [],  # noqa: B006
    max_rows_per_unit: Annotated[int, typer.Option(min=1, help="Rows one customer may "
                                                                "contribute")] = 1,
    max_rows: Annotated[int, typer.Option(min=1, help="Public upper bound on the row count")
                        ] = 10_000_000,
    jurisdiction: Annotated[str, typer.Option()] = "pipl",
    silo: Annotated[list[str], typer.Option(help="BRAND=PATH: the brand's own rows for "
                                                 "federated queries (repeat)")] = [],  # noqa: B006
    file: Annotated[Path | None, typer.Option(help="CSV or Parquet file (optional when "
                                                   "--silo is given)")] = None,
) -> None:
    """Register a dataset: schema and integrity are checked, nothing is inferred from it."""
    try:
        cats = {c: [v.strip() for v in vals.split(",")]
                for c, vals in _pairs(categories, "--categories").items()}
        spec = _aggregates().register(
            name, file, unit_col, actor="cli", bounds=_bounds(bounds), categories=cats,
            data_categories=_pairs(data_category, "--data-category"),
            max_rows_per_unit=max_rows_per_unit, max_rows=max_rows, jurisdiction=jurisdiction,
            silos={b: Path(p) for b, p in _pairs(silo, "--silo").items()})
    except ComityError as exc:
        _fail(exc)
        return
    print(json.dumps({"dataset": spec.name, "version": spec.version,
                      "columns": {c: s.model_dump(exclude_none=True)
                                  for c, s in spec.columns.items()}}, ensure_ascii=False))


@budget_app.command("set")
def budget_set(
    requester: Annotated[str, typer.Option(help="service:<name>")],
    dataset: Annotated[str, typer.Option()],
    epsilon: Annotated[float, typer.Option(help="Epsilon limit per period")],
    period: Annotated[str | None, typer.Option(
        help="day | week | month | quarter | year | total (default from policies)")] = None,
) -> None:
    """Set a requester's epsilon limit on a dataset; audited."""
    try:
        view = _aggregates().set_budget(requester, dataset, epsilon, period=period, actor="cli")
    except ComityError as exc:
        _fail(exc)
        return
    print(view.model_dump_json())


@budget_app.command("list")
def budget_list(requester: Annotated[str | None, typer.Option()] = None) -> None:
    """Ledgers per requester, dataset and period."""
    print(json.dumps([v.model_dump() for v in _aggregates().budgets(requester)], indent=2))


@app.command()
def report(
    period: Annotated[str, typer.Option(help="YYYY, YYYY-Qn or YYYY-MM")],
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[str, typer.Option(help="json, html or pdf")] = "json",  # noqa: A002
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
) -> None:
    """The DPO report for a period (the records as they stood at its end). Issuing it is
    audited with the SHA-256 of the file written."""
    from compliance.database import Database
    from compliance.report.issue import issue_report

    if format not in ("json", "html", "pdf"):
        _fail(ComityError(f"format '{format}' is not json, html or pdf"))
        return
    try:
        issued = issue_report(Database(), period, fmt=format, lang=lang, actor="cli")
    except ComityError as exc:
        _fail(exc)
        return
    out.write_bytes(issued.body)
    err.print(f"sha256 {issued.sha256} (audit event {issued.audit_seq})")
    print(str(out))


@app.command()
def score(
    task: Annotated[str, typer.Argument(help="churn")],
    silo: Annotated[Path, typer.Option(help="This brand's silo directory (column_map.yaml)")],
    customer: Annotated[list[str], typer.Option(help="Customer id (repeat; default: all)")
                        ] = [],  # noqa: B006
    as_of: Annotated[str | None, typer.Option(help="Scoring date YYYY-MM-DD (default: the "
                                                   "latest order)")] = None,
) -> None:
    """Churn risk per customer with the latest federated model, at the brand. Customers who
    refused automated decisions (PIPL Art. 24) get no individual score, and the line says
    why. Output is JSON lines keyed by pseudonym."""
    from datetime import date

    from compliance.database import Database
    from federation.serving import score_churn

    if task != "churn":
        _fail(ComityError(f"unknown scoring task '{task}' (churn)"))
        return
    try:
        scores = score_churn(Database(), silo, customers=customer or None,
                             as_of=date.fromisoformat(as_of) if as_of else None, actor="brand")
    except (ComityError, ValueError) as exc:
        _fail(exc if isinstance(exc, ComityError) else ComityError(str(exc)))
        return
    for sc in scores:
        print(json.dumps(sc.as_dict(), ensure_ascii=False))


@app.command("recommend")
def recommend_cmd(
    silo: Annotated[Path, typer.Option(help="This brand's silo directory (column_map.yaml)")],
    customer: Annotated[list[str], typer.Option(help="Customer id (repeat; default: all)")
                        ] = [],  # noqa: B006
    k: Annotated[int, typer.Option(min=1, max=1000, help="Items per customer")] = 10,
    catalogue: Annotated[Path | None, typer.Option(help="Alliance catalogue CSV (default: "
                                                        "catalogue.csv beside the silo)")
                         ] = None,
) -> None:
    """Top-k items per customer with the latest federated recommender, at the brand.
    Customers who refused personalization (PIPL Art. 24) get the non-personalized list, and
    the line says so. Output is JSON lines keyed by pseudonym."""
    from compliance.database import Database
    from federation.serving import recommend

    try:
        recs = recommend(Database(), silo, customers=customer or None, k=k,
                         catalogue=catalogue, actor="brand")
    except (ComityError, ValueError) as exc:
        _fail(exc if isinstance(exc, ComityError) else ComityError(str(exc)))
        return
    for rec in recs:
        print(json.dumps(rec.as_dict(), ensure_ascii=False))


@app.command()
def query(
    requester: Annotated[str, typer.Option(help="service:<name> the answer is for")],
    query_json: Annotated[str, typer.Argument(help="The query as JSON, or @FILE")],
) -> None:
    """Answer one DP aggregate query (the body of POST /v1/aggregates) and spend its budget."""
    from pydantic import ValidationError

    from privacy.aggregates.schemas import AggregateQuery

    text = Path(query_json[1:]).read_text(encoding="utf-8") if query_json.startswith("@") \
        else query_json
    try:
        q = AggregateQuery.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(ComityError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"))
        return
    try:
        answer = _aggregates().query(requester, q, actor="cli")
    except ComityError as exc:
        _fail(exc)
        return
    print(answer.model_dump_json(indent=2))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to the database and the key store (the embedded
    default migrates itself on first use)."""
    from compliance.database import database_url, ensure_schema, keystore_url

    main = database_url()
    try:
        for url in dict.fromkeys((main, keystore_url(main))):
            ensure_schema(url)
    except ComityError as exc:
        _fail(exc)
    print("schema at head")


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="comity")
