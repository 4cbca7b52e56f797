"""Operating the alliance at the coordinator: register brands, run training on the deployment
runtime (or in simulation), read runs and model versions, make the TLS certificates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.console import err, reports_errors
from api.composition import default_services, existing_services

brand_app = typer.Typer(help="The alliance's brands.", no_args_is_help=True)
runs_app = typer.Typer(help="Training runs and their lineage.", no_args_is_help=True)
models_app = typer.Typer(help="Model versions.", no_args_is_help=True)


@brand_app.command("add")
@reports_errors()
def brand_add(
    brand_id: Annotated[str, typer.Argument(metavar="ID", help="lowercase letters, digits, "
                                                               "- and _")],
    name: Annotated[str, typer.Option(help="The brand's display name")],
    jurisdiction: Annotated[str, typer.Option(help="pipl, gdpr or ccpa")],
) -> None:
    """Register a brand (audited). A brand id already taken is refused.
    Example: comity brand add lumen-tea --name "Lumen Tea" --jurisdiction pipl"""
    from compliance.subjects.schemas import BrandIn
    from compliance.subjects.service import SubjectService

    services = default_services()
    body = _validated(BrandIn, {"id": brand_id, "name": name, "jurisdiction": jurisdiction})
    with services.db.unit_of_work() as session:
        out = SubjectService(session).add_brand(body, policies=services.policies,
                                                actor="cli:admin")
    print(out.model_dump_json())


@brand_app.command("list")
@reports_errors()
def brand_list() -> None:
    """The registered brands, with their jurisdiction and subject counts (JSON).
    Example: comity brand list"""
    from compliance.subjects.service import SubjectService

    with existing_services().db.reading() as session:
        brands = SubjectService(session).brands()
    print(json.dumps([b.model_dump(mode="json") for b in brands], indent=2))


def _validated(model: Any, values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from compliance.errors import InputError

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(first["msg"], column=".".join(str(p) for p in first["loc"])) from None


@reports_errors(ValueError)
def train(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="churn or recommend")],
    brands: Annotated[str, typer.Option(help="Comma-separated brand ids, each registered")],
    rounds: Annotated[int | None, typer.Option(
        min=1, max=500, help="Federated rounds to train")] = None,
    epsilon: Annotated[float | None, typer.Option(
        min=0.0, max=50.0, help="DP target epsilon (0: no DP)")] = None,
    local_epochs: Annotated[int | None, typer.Option(
        min=1, max=100, help="Epochs each brand trains per round")] = None,
    strategy: Annotated[str, typer.Option(help="fedavg, fedprox, trimmed-mean, median")
                        ] = "fedavg",
    secure_aggregation: Annotated[bool, typer.Option(help="SecAgg+ (3+ brands, FedAvg)")
                                  ] = True,
    ltv_feature: Annotated[bool, typer.Option(
        help="churn: add each brand's own LTV estimate (BG/NBD + Gamma-Gamma) as a feature")
                           ] = False,
    catalogue: Annotated[Path | None, typer.Option(help="Alliance catalogue CSV (recommend)")
                         ] = None,
    run_id: Annotated[str | None, typer.Option(help="Resume an unfinished run by its id")
                      ] = None,
    simulation: Annotated[bool, typer.Option(help="Run in Flower's simulation runtime here, "
                                                  "with the brands' --node-config files")
                          ] = False,
    node_config: Annotated[list[Path], typer.Option(help="A brand's brand.toml (repeat; "
                                                         "with --simulation)")
                           ] = [],  # noqa: B006
    federation: Annotated[str, typer.Option(help="Federation name in FLWR_HOME/config.toml")
                          ] = "comity-local",
    app_dir: Annotated[Path | None, typer.Option(help="The Flower app (default: this "
                                                      "installation)")] = None,
) -> None:
    """Train the shared churn or recommendation model over the given brands: submitted to the
    SuperLink (the deployment runtime) unless --simulation. Shows round progress; exits
    non-zero with the reason when the run fails. Prints the run's outcome as JSON.
    Example: comity train churn --brands lumen-tea,north-outfitters,jade-beauty --epsilon 3"""
    from compliance.errors import InputError
    from federation.brand.config import load_brand_config
    from federation.coordinator.strategy import STRATEGIES
    from federation.runtime.training import (
        PROJECT_ROOT,
        run_settings,
        train_in_simulation,
        train_on_deployment,
    )

    if model not in ("churn", "recommend"):
        raise InputError(f"unknown model '{model}' (churn or recommend)", column="MODEL")
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy '{strategy}' ({', '.join(STRATEGIES)})",
                         column="--strategy")
    if node_config and not simulation:
        raise InputError("--node-config goes with --simulation (on the deployment runtime "
                         "each brand's node reads its own)", column="--node-config")
    db = existing_services().db
    settings = run_settings(
        db, model, [b.strip() for b in brands.split(",") if b.strip()], catalogue=catalogue,
        run_id=run_id, rounds=rounds, dp_epsilon=epsilon, local_epochs=local_epochs,
        secure_aggregation=secure_aggregation, ltv_feature=ltv_feature)
    nodes = {}
    for path in node_config:
        cfg = load_brand_config(path)
        nodes[cfg.brand_id] = path
    total = 1 if settings.item_statistics else settings.rounds
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err) as bar:
        task = bar.add_task(f"{model} run {settings.run_id[:8]}", total=total)

        def progress(_kind: str, done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        if simulation:
            result = train_in_simulation(settings, db, nodes, strategy=strategy,
                                         progress=progress)
        else:
            result = train_on_deployment(settings, db, strategy=strategy,
                                         app_dir=app_dir or PROJECT_ROOT,
                                         federation=federation, progress=progress)
    print(json.dumps(result.__dict__, default=str))


@runs_app.command("list")
@reports_errors()
def runs_list(limit: Annotated[int, typer.Option(min=1, max=1000,
                                                 help="How many, newest first")] = 20) -> None:
    """The latest training runs: id, model, status, brands, rounds, final metrics (JSON).
    Example: comity runs list --limit 5"""
    from federation.coordinator.lineage.service import LineageService

    with existing_services().db.reading() as session:
        runs = LineageService(session).runs(limit=limit)
        out = [{"run_id": r.id, "model": r.model, "status": r.status,
                "brands": list(r.config.get("brands", [])), "rounds": r.rounds,
                "started_at": r.started_at.isoformat(),
                "final": (r.metrics or {}).get("final", {})} for r in runs]
    print(json.dumps(out, indent=2))


@runs_app.command("show")
@reports_errors()
def runs_show(run_id: Annotated[str, typer.Argument(
        metavar="RUN_ID", help="The run's id, from comity runs list or comity train's "
                               "output")]) -> None:
    """One run's lineage: settings, each brand's records used and excluded with its consent
    snapshot digest and its value of joining (`lift`: the federated figure beside a
    local-only model's, on the brand's own held-out customers), rounds, DP accounting, the
    model version (JSON).
    Example: comity runs show 3f2a..."""
    from federation.coordinator.lineage.service import LineageService

    with existing_services().db.reading() as session:
        svc = LineageService(session)
        run = svc.run(run_id)
        version = next((v for v in svc.versions(run.model) if v.run_id == run_id), None)
        lift = (run.metrics or {}).get("per_brand_lift", {})
        out = {"run_id": run.id, "model": run.model, "status": run.status,
               "purpose": run.purpose, "strategy": run.strategy,
               "consent_as_of": run.consent_as_of.isoformat(),
               "settings": run.config, "metrics": run.metrics,
               "brands": [{**b.__dict__, "lift": lift.get(b.brand_id)}
                          for b in svc.lineage(run_id)],
               "model_version": version.version if version else None,
               "weights_sha256": version.weights_sha256 if version else None}
    print(json.dumps(out, indent=2, default=str))


@models_app.command("list")
@reports_errors()
def models_list(model: Annotated[str | None, typer.Option(help="churn or recommend")] = None
                ) -> None:
    """Model versions with their run and weights digest (JSON).
    Example: comity models list --model churn"""
    from federation.coordinator.lineage.service import LineageService

    with existing_services().db.reading() as session:
        versions = LineageService(session).versions(model)
        out = [{"model": v.model, "version": v.version, "run_id": v.run_id,
                "weights_sha256": v.weights_sha256, "created_at": v.created_at.isoformat()}
               for v in versions]
    print(json.dumps(out, indent=2))


@reports_errors()
def certs(
    out: Annotated[Path, typer.Option(help="Directory for ca.crt, server.pem, server.key")],
    host: Annotated[list[str], typer.Option(help="DNS name or IP the SuperLink and API are "
                                                 "reached by (repeat)")] = [],  # noqa: B006
    days: Annotated[int, typer.Option(min=1, max=3650,
                                      help="How long the certificates are valid")] = 365,
) -> None:
    """A private CA and the coordinator's TLS certificate. Brands get ca.crt only; each brand
    makes its own node key (comity node init).
    Example: comity certs --out certs --host coordinator.example --host 127.0.0.1"""
    from federation.runtime.certificates import make_certificates

    made = make_certificates(out, hosts=host or ["localhost", "127.0.0.1"], days=days)
    print(json.dumps({"ca": str(made.ca_cert), "server_cert": str(made.server_cert),
                      "server_key": str(made.server_key)}))
