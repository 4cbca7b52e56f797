"""Operating the coordinator: the API server, tokens, schema, keys, retention sweeps and the
DPO report."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from api.cli.console import err, reports_errors
from api.composition import default_services, existing_services
from compliance.errors import InputError

token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention sweeps.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@reports_errors()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (comity certs)")
                            ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="Its private key")] = None,
    log_json: Annotated[bool, typer.Option(
        help="Log one JSON event per line, no personal data (or COMITY_LOG_FORMAT=json)")
    ] = False,
) -> None:
    """Serve the API on the embedded default (or COMITY_DATABASE_URL); over TLS when given a
    certificate and key (brand nodes verify it against the alliance CA).
    Example: comity serve --host 0.0.0.0 --port 8080"""
    import uvicorn

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InputError("give both --ssl-certfile and --ssl-keyfile, or neither",
                         column="--ssl-keyfile")
    from api import jsonlog

    if log_json:
        os.environ[jsonlog.ENV] = "json"  # the workers' create_app reads it
    default_services().db.dispose()  # migrate once, before the workers start
    structured = jsonlog.enabled()  # uvicorn's own config would print plain lines and URLs
    from api.serving import UVICORN_OPTIONS

    uvicorn.run("api.serving:served_app", factory=True, host=host, port=port, workers=workers,
                **UVICORN_OPTIONS, log_level="warning", access_log=not structured,
                log_config=None if structured else uvicorn.config.LOGGING_CONFIG,
                ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
                ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None)


@reports_errors()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per check")] = False,
) -> None:
    """Check this installation and say what to fix: database and key store reachable and
    migrated to head, key files' modes (0700/0600), a CJK font, Chromium, the SuperLink.
    Changes nothing; exits 1 if any check fails (warnings do not).
    Example: comity doctor"""
    from api.doctor import run_checks

    checks = run_checks()
    for c in checks:
        if as_json:
            print(json.dumps(c.as_json(), ensure_ascii=False))
            continue
        print(f"{c.status:<4}  {c.name:<15} {c.detail}")
        if c.fix:
            print(f"{'':<6}{'':<15} fix: {c.fix}")
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        err.print(f"{len(failed)} check(s) failed: {', '.join(failed)}", highlight=False)
        raise typer.Exit(code=1)


def _operator() -> str:
    """Who ran the command, as audit events and `created_by` record it."""
    try:
        return f"cli:{getpass.getuser()}"[:128]
    except (OSError, KeyError):  # no login name (a bare container)
        return "cli"


@token_app.command("create")
@reports_errors()
def token_create(
    role: Annotated[str, typer.Option(help="dpo | admin | brand:<id> | service:<name>")],
    principal: Annotated[str, typer.Option(
        help="The person or service that holds it (e.g. alice@dpo, lumen-tea-node); "
             "registered on first use. Two tokens of one principal are one person to the "
             "two-person rule")],
    kind: Annotated[str | None, typer.Option(
        help="person or service (default: person for dpo and admin, else service)")] = None,
    label: Annotated[str, typer.Option(help="What this token is for")] = "",
) -> None:
    """Create a token; prints it alone on stdout (only its hash is stored).
    Example: comity token create --role dpo --principal alice@dpo"""
    from compliance.tokens.service import TokenService

    with default_services().db.unit_of_work() as session:
        token = TokenService(session).create(role, principal=principal, kind=kind,
                                             label=label, actor=_operator())
    print(token)


@token_app.command("list")
@reports_errors()
def token_list() -> None:
    """Every token: id, principal, role, label, created, revoked (JSON; never the secret).
    Example: comity token list"""
    from compliance.tokens.service import TokenService

    with existing_services().db.reading() as session:
        tokens = TokenService(session).list_tokens()
    print(json.dumps([t.as_json() for t in tokens], indent=2))


@token_app.command("revoke")
@reports_errors()
def token_revoke(token_id: Annotated[int, typer.Argument(metavar="ID", min=1,
                                                          help="From comity token list")]
                 ) -> None:
    """Revoke a token for good: the API refuses it from now on (audited as token.revoked).
    Example: comity token revoke 3"""
    from compliance.tokens.service import TokenService

    with default_services().db.unit_of_work() as session:
        info = TokenService(session).revoke(token_id, actor=_operator())
    print(json.dumps(info.as_json(), indent=2))


@retention_app.command("sweep")
@reports_errors()
def retention_sweep(
    batch: Annotated[int, typer.Option(min=1, max=100_000,
                                       help="Records handled per transaction")] = 5000,
    every: Annotated[str | None, typer.Option(
        help="Run again at this interval until stopped (e.g. 24h, 30m); one run if absent")
                     ] = None,
    max_runs: Annotated[int, typer.Option(min=0, help="With --every: stop after N runs "
                                                      "(0: never)")] = 0,
) -> None:
    """Apply policies/retention.yaml now (or on a schedule); safe to interrupt and re-run.
    Prints one JSON line per run.
    Example: comity retention sweep --every 24h"""
    from compliance.retention.schedule import parse_interval, run_every
    from compliance.retention.service import RetentionService

    seconds = parse_interval(every) if every is not None else 0
    services = default_services()
    svc = RetentionService(services.db, services.policies, actor="cli")

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
@reports_errors()
def keys_rotate(
    compromised: Annotated[bool, typer.Option(
        "--compromised", help="the old key is (or may be) compromised: rotate and open an "
        "incident with source key_compromise (PIPL Art. 57; GDPR Art. 33)")] = False,
    reason: Annotated[str, typer.Option(
        help="with --compromised: what happened, for the incident's causes")] = "",
) -> None:
    """Create a new master key version and re-wrap every subject data key under it.
    Example: comity keys rotate --compromised --reason "backup tape lost" """
    from privacy.keys import new_master_version
    from privacy.vault.service import Vault

    services = default_services()
    version = new_master_version()
    with services.db.unit_of_work() as session:
        n = Vault(session).rotate()
        out: dict[str, object] = {"master_version": version, "rewrapped": n}
        if compromised:
            from compliance.governance.service import GovernanceService
            from compliance.policy.governance import load_governance

            inc = GovernanceService(session, services.policies, load_governance(
                services.policies)).incident_for_key_compromise(
                master_version=version, rewrapped=n, reason=reason, actor="cli:keys-rotate")
            out["incident_id"] = inc.id
    print(json.dumps(out))


@db_app.command("upgrade")
@reports_errors()
def db_upgrade() -> None:
    """Apply every pending migration to the database and the key store (the embedded
    default migrates itself on first use).
    Example: comity db upgrade"""
    from compliance.database import database_url, ensure_schema, keystore_url

    main = database_url()
    for url in dict.fromkeys((main, keystore_url(main))):
        ensure_schema(url)
    print("schema at head")


@reports_errors()
def report(
    period: Annotated[str, typer.Option(help="YYYY, YYYY-Qn or YYYY-MM")],
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[str, typer.Option(help="json, html or pdf")] = "json",  # noqa: A002
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
) -> None:
    """The DPO report for a period (the records as they stood at its end). The file is
    written whole (a temporary file renamed over it), then issuing it is audited with its
    SHA-256; a file that cannot be written is not audited.
    Example: comity report --period 2026-Q4 --format pdf --lang zh --out q4.pdf"""
    from compliance.files import write_atomically
    from compliance.report.issue import issue_report, requested

    requested(period, format)  # every option checked before the database is opened
    issued = issue_report(existing_services().db, period, fmt=format, lang=lang, actor="cli",
                          deliver=lambda body: write_atomically(out, body))
    err.print(f"sha256 {issued.sha256} (audit event {issued.audit_seq})")
    print(str(out))
