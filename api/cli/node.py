"""Commands run at a brand, from its own node config (`brand.toml`): set the node up, start its
SuperNode, import and sync its consent records, and serve the released models. None of them
opens the coordinator's database; they reach the coordinator through its API with the brand
token, and through Flower."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.cli.console import err, reports_errors

node_app = typer.Typer(help="A brand node: set up and start its SuperNode.",
                       no_args_is_help=True)
consent_app = typer.Typer(help="A brand's consent records: import from its CRM, sync.",
                          no_args_is_help=True)
ConfigOpt = Annotated[Path, typer.Option("--config", help="The brand node's brand.toml")]


def _node(config: Path):  # type: ignore[no-untyped-def]
    from federation.brand.config import load_brand_config
    from federation.brand.node import BrandNode

    return BrandNode(load_brand_config(config))


@node_app.command("init")
@reports_errors()
def init(
    directory: Annotated[Path, typer.Argument(help="The brand node's directory (made if new)")],
    brand: Annotated[str, typer.Option(help="The brand id the coordinator registered")],
    api: Annotated[str, typer.Option(help="The coordinator's API URL")],
    jurisdiction: Annotated[str, typer.Option(help="pipl, gdpr or ccpa")] = "pipl",
    token_file: Annotated[Path | None, typer.Option(
        help="A file holding the brand token the operator gave you (copied, mode 0600)")] = None,
    superlink: Annotated[str | None, typer.Option(help="The SuperLink's host:port")] = None,
    root_certificates: Annotated[Path | None, typer.Option(
        help="The alliance CA certificate (TLS to the SuperLink and the API)")] = None,
) -> None:
    """Lay out a brand node: brand.toml, silo/, crm/, state/, and its own keys (pseudonym key,
    node key pair). Prints the config path; give keys/node.pub to the operator to register.
    Example: comity node init lumen-tea --brand lumen-tea --api https://coord:8080"""
    from federation.brand.provision import init_node

    token = token_file.read_text(encoding="utf-8").strip() if token_file else None
    path = init_node(directory, brand_id=brand, jurisdiction=jurisdiction, api=api,
                     token=token, superlink=superlink,
                     root_certificates=root_certificates.resolve() if root_certificates
                     else None)
    print(str(path))


@node_app.command("start")
@reports_errors()
def start(
    config: ConfigOpt,
    superlink: Annotated[str | None, typer.Option(help="Override the config's SuperLink")
                         ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535,
                                             help="The SuperNode's local runtime API port")
                    ] = None,
    root_certificates: Annotated[Path | None, typer.Option(
        help="Override the config's alliance CA certificate")] = None,
    node_auth: Annotated[bool | None, typer.Option(
        "--node-auth/--no-node-auth",
        help="Authenticate with the node key (default: whenever TLS is on and the key exists)")
                         ] = None,
) -> None:
    """Run this brand's Flower SuperNode (TLS and node authentication from the config), with
    an environment that carries none of the coordinator's settings.
    Example: comity node start --config lumen-tea/brand.toml"""
    from federation.brand.config import load_brand_config
    from federation.brand.supernode import exec_supernode

    exec_supernode(load_brand_config(config), superlink=superlink, port=port,
                   root_certificates=root_certificates, node_auth=node_auth)


@consent_app.command("import")
@reports_errors()
def consent_import(
    config: ConfigOpt,
    file: Annotated[str | None, typer.Option(
        "--file", help="CRM export: CSV, Parquet or <sqlalchemy-url>#<table> (default: the "
                       "config's consent.export)")] = None,
    map_path: Annotated[Path | None, typer.Option(
        "--map", help="Its column map YAML (default: the config's consent.map)")] = None,
    brand: Annotated[str | None, typer.Option(help="Must match the config's brand")] = None,
) -> None:
    """Check every row of the CRM export, pseudonymize at the brand, send through the API with
    the brand token (idempotent: a re-import adds nothing), then sync the node's copy. One bad
    row and nothing is sent. Example: comity consent import --config brand.toml"""
    from compliance.errors import InputError
    from federation.brand.consent_import import import_consents

    node = _node(config)
    if brand is not None and brand != node.brand_id:
        raise InputError(f"--brand {brand} but the node config is for '{node.brand_id}'",
                         column="brand")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]consent import"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} rows"), TimeElapsedColumn(),
                  console=err) as bar:
        task = bar.add_task("import", total=None)
        report = import_consents(node, source=file, map_path=map_path,
                                 progress=lambda done, of: bar.update(task, completed=done,
                                                                      total=of))
    print(json.dumps(report.__dict__))


ALARM_EXIT = 3  # the coordinator's audit log was truncated or forked


def _witnessed(node, *, strict: bool) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The witness check as JSON; an alarm is printed loudly and ends with `ALARM_EXIT`."""
    from federation.brand.witness import WitnessAlarm

    try:
        return dict(node.witness(strict=strict).__dict__)
    except WitnessAlarm as exc:
        err.print(f"[bold red on white] {escape(exc.message)} [/]", highlight=False,
                  soft_wrap=True)
        err.print(f"stored in {node.witnesses.path}; tell the alliance's DPO", highlight=False)
        return {"status": "alarm", "kind": exc.kind}


@node_app.command("witness")
@reports_errors()
def witness(config: ConfigOpt) -> None:
    """Witness the coordinator's audit log: check its newest signed tree head (signature under
    the pinned key, RFC 6962 consistency with every head this brand saw), keep it and report
    it. A truncated or forked log is an alarm: stored, printed, exit code 3.
    Example: comity node witness --config brand.toml"""
    out = _witnessed(_node(config), strict=True)
    print(json.dumps(out))
    if out["status"] == "alarm":
        raise typer.Exit(code=ALARM_EXIT)


@consent_app.command("sync")
@reports_errors()
def consent_sync(config: ConfigOpt) -> None:
    """Bring the node's copy of its consent records up to date from the coordinator, then
    witness its audit log (a coordinator that cannot answer that is noted, not an error; an
    alarm exits with code 3 after the sync). Example: comity consent sync --config brand.toml"""
    node = _node(config)
    synced = node.sync()
    seen = _witnessed(node, strict=False)
    print(json.dumps({**synced.__dict__, "witness": seen}))
    if seen["status"] == "alarm":
        raise typer.Exit(code=ALARM_EXIT)


@reports_errors(ValueError)
def score(
    task: Annotated[str, typer.Argument(help="What to score: churn")],
    config: ConfigOpt,
    customer: Annotated[list[str], typer.Option(help="Customer id (repeat; default: all)")
                        ] = [],  # noqa: B006
    as_of: Annotated[str | None, typer.Option(help="Scoring date YYYY-MM-DD (default: the "
                                                   "latest order)")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="add `factors`: the three features that moved each score most, "
        "in words (PIPL Art. 24(3); GDPR Art. 22(3)); gradient x input of the logit, "
        "weight x scaled value for the logistic model")] = False,
) -> None:
    """Churn risk per customer with the newest federated model this brand took part in, at
    the brand. Customers who refused automated decisions (PIPL Art. 24) get no individual
    score, and the line says why. Output is JSON lines keyed by pseudonym.
    Example: comity score churn --config brand.toml --customer C001 --explain"""
    from compliance.errors import InputError
    from federation.brand.serving import serve_churn

    if task != "churn":
        raise InputError(f"unknown scoring task '{task}' (churn)", column="task")
    try:
        when = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:  # the reason, e.g. "month must be in 1..12", after the where
        raise InputError(f"not a date YYYY-MM-DD ({exc})", column="--as-of") from None
    for sc in serve_churn(_node(config), customers=customer or None, as_of=when,
                          explain=3 if explain else 0):
        print(json.dumps(sc.as_dict(), ensure_ascii=False))


@reports_errors(ValueError)
def recommend(
    config: ConfigOpt,
    customer: Annotated[list[str], typer.Option(help="Customer id (repeat; default: all)")
                        ] = [],  # noqa: B006
    k: Annotated[int, typer.Option(min=1, max=1000, help="Items per customer")] = 10,
    catalogue: Annotated[Path | None, typer.Option(help="Alliance catalogue CSV (default: "
                                                        "the node config's)")] = None,
) -> None:
    """Top-k items per customer with the newest federated recommender this brand took part
    in, at the brand. Customers who refused personalization (PIPL Art. 24) get the
    non-personalized list, and the line says so. Output is JSON lines keyed by pseudonym.
    Example: comity recommend --config brand.toml --k 5"""
    from federation.brand.serving import serve_recommendations

    for rec in serve_recommendations(_node(config), customers=customer or None, k=k,
                                     catalogue=catalogue):
        print(json.dumps(rec.as_dict(), ensure_ascii=False))
    err.print("recommendations computed at the brand; counts reported to the coordinator")
