"""Brand operations at the coordinator: `comity audit trace` (the 7-day trace),
`comity customer lookup|reveal|confirm|open` (masked lookups and the supervisor's confirmed
reveal, as the principal whose token is given), `comity experiment register|readout` and
`comity ltv fit` (at the brand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.audit import app as audit_app
from api.cli.console import reports_errors
from api.composition import existing_services

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from compliance.tokens.service import Principal
    from privacy.masking.service import LookupService

customer_app = typer.Typer(help="Masked customer lookups for a brand's operators.",
                           no_args_is_help=True)

TokenOpt = Annotated[str, typer.Option(envvar="COMITY_TOKEN", show_default=False,
                                       help="Your bearer token (brand:<id>:staff or "
                                            ":supervisor; a dpo may confirm); or "
                                            "COMITY_TOKEN")]


@audit_app.command("trace")
@reports_errors()
def trace(
    subject: Annotated[str | None, typer.Option(help="Subject pseudonym")] = None,
    run: Annotated[str | None, typer.Option(help="Training run id")] = None,
    actor: Annotated[str | None, typer.Option(help="Actor as recorded (role#token) or a "
                                                   "role (every token of it)")] = None,
    since: Annotated[str, typer.Option(help="Window back from now: 7d, 24h, 90m")] = "7d",
    brand: Annotated[str | None, typer.Option(help="Only this brand's events")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events")] = 1000,
) -> None:
    """Every processing event of one subject, run or actor in the window (default 7 days),
    with rule, actor, data categories and evidence digest (the event's chained hash; `comity
    audit proof SEQ` proves it), as JSON.
    Example: comity audit trace --subject 3f9a0c... --since 7d"""
    from compliance.audit.trace import TraceService
    from compliance.errors import InputError

    given = {k: v for k, v in (("subject", subject), ("run", run), ("actor", actor)) if v}
    if len(given) != 1:
        raise InputError("give exactly one of --subject, --run or --actor", column="subject")
    (by, value), = given.items()
    services = existing_services()
    with services.db.reading() as session:
        found = TraceService(session, services.policies.purpose_categories()).trace(
            by, value, since=since, brand_id=brand, limit=limit)  # type: ignore[arg-type]
    print(json.dumps(found.as_json(), ensure_ascii=False, indent=2))


def _as_caller(token: str, call: Callable[[LookupService, Principal], BaseModel]) -> None:
    """Authenticate the token, run one lookup-service call in one unit of work, print."""
    from compliance.tokens.service import TokenService
    from privacy.masking.policy import default_masking
    from privacy.masking.service import LookupService

    db = existing_services().db
    with db.reading() as session:
        principal = TokenService(session).authenticate(token)
    with db.unit_of_work() as session:
        out = call(LookupService(session, default_masking()), principal)
    print(out.model_dump_json(indent=2))


@customer_app.command("lookup")
@reports_errors()
def lookup(brand: Annotated[str, typer.Argument(help="Brand id")],
           subject: Annotated[str, typer.Argument(help="The customer's pseudonym")],
           token: TokenOpt) -> None:
    """A customer's stored fields, masked as your tier sees them (policies/masking.yaml);
    audited as `pii.lookup`.
    Example: COMITY_TOKEN=cmt_... comity customer lookup acme 3f9a0c..."""
    _as_caller(token, lambda svc, who: svc.lookup(who, brand, subject))


@customer_app.command("reveal")
@reports_errors()
def reveal(brand: Annotated[str, typer.Argument(help="Brand id")],
           subject: Annotated[str, typer.Argument(help="The customer's pseudonym")],
           field: Annotated[str, typer.Option(help="The one field to see in clear")],
           reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")],
           token: TokenOpt) -> None:
    """Ask (as a supervisor) to see one field in clear; another person confirms it.
    Example: comity customer reveal acme 3f9a... --field phone --reason 'courier failed'"""
    _as_caller(token, lambda svc, who: svc.request_reveal(who, brand, subject, field, reason))


@customer_app.command("confirm")
@reports_errors()
def confirm(reveal_id: Annotated[int, typer.Argument(min=1, help="Reveal id")],
            token: TokenOpt) -> None:
    """The second confirmation of a reveal (another supervisor of the brand, or a dpo).
    Example: COMITY_TOKEN=cmt_... comity customer confirm 7"""
    _as_caller(token, lambda svc, who: svc.confirm(who, reveal_id))


@customer_app.command("open")
@reports_errors()
def open_reveal(reveal_id: Annotated[int, typer.Argument(min=1, help="Reveal id")],
                token: TokenOpt) -> None:
    """The confirmed field in clear, once, to the supervisor who asked.
    Example: COMITY_TOKEN=cmt_... comity customer open 7"""
    _as_caller(token, lambda svc, who: svc.open(who, reveal_id))


ltv_app = typer.Typer(help="Customer lifetime value at the brand (BG/NBD + Gamma-Gamma).",
                      no_args_is_help=True)


@ltv_app.command("fit")
@reports_errors()
def ltv_fit(
    orders: Annotated[Path, typer.Option(help="Transaction log (CSV): one row per order")],
    cutoff: Annotated[str, typer.Option(help="Fit on orders up to this date (YYYY-MM-DD)")],
    horizon_days: Annotated[int, typer.Option(min=1, help="Predict spend over these days")]
    = 180,
    out: Annotated[Path | None, typer.Option(help="Write per-customer LTV here (CSV)")] = None,
    customer_col: Annotated[str, typer.Option(help="Orders: the customer column")
                            ] = "customer_id",
    time_col: Annotated[str, typer.Option(help="Orders: the order time column")
                        ] = "ordered_at",
    amount_col: Annotated[str, typer.Option(help="Orders: the amount column")] = "amount",
) -> None:
    """Fit at the brand, on its own orders, and print the model, the band counts and, when
    the log runs past the horizon, the holdout error of predicted vs actual spend. Per-
    customer values stay in OUT at the brand; only DP aggregates of `ltv_band` leave it.
    Example: comity ltv fit --orders orders.csv --cutoff 2026-06-30 --horizon-days 180"""
    import dataclasses

    import pandas as pd

    from compliance.errors import InputError
    from federation.data.ltv import customer_ltv, fit_ltv

    if not orders.is_file():
        raise InputError("no such file", file=str(orders))
    frame = pd.read_csv(orders)
    missing = [c for c in (customer_col, time_col, amount_col) if c not in frame.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(missing)} not in the file", file=str(orders))
    frame = frame.rename(columns={customer_col: "customer_id", time_col: "ordered_at",
                                  amount_col: "amount"})
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    try:
        cut = pd.Timestamp(cutoff)
    except ValueError:
        raise InputError(f"cutoff '{cutoff[:20]}' is not a date", column="cutoff") from None
    before = frame[frame["ordered_at"] <= cut]
    try:
        table = customer_ltv(before, cutoff=cut, horizon_days=horizon_days)
        model = fit_ltv(table)
    except ValueError as exc:
        raise InputError(str(exc), file=str(orders)) from None
    report: dict[str, object] = {
        "customers": len(table), "bg_nbd": dataclasses.asdict(model.purchases),
        "gamma_gamma": dataclasses.asdict(model.spend),
        "bands": table["ltv_band"].value_counts().to_dict()}
    end = cut + pd.Timedelta(days=horizon_days)
    if frame["ordered_at"].max() >= end:
        after = frame[(frame["ordered_at"] > cut) & (frame["ordered_at"] <= end)]
        actual = after.groupby("customer_id")["amount"].sum().reindex(table.index,
                                                                       fill_value=0.0)
        err = table["ltv"] - actual
        report["holdout"] = {"mae": float(err.abs().mean()),
                             "rmse": float((err ** 2).mean() ** 0.5),
                             "predicted_total": float(table["ltv"].sum()),
                             "actual_total": float(actual.sum())}
    if out is not None:
        table.reset_index().to_csv(out, index=False)
    print(json.dumps(report, indent=2))


experiment_app = typer.Typer(help="A/B experiments of internal services, read out under DP.",
                             no_args_is_help=True)


@experiment_app.command("register")
@reports_errors()
def experiment_register(
    requester: Annotated[str, typer.Option(help="service:<name> that runs the experiment")],
    spec_json: Annotated[str, typer.Argument(
        metavar="SPEC_JSON", help="The body of POST /v1/experiments: JSON text or @FILE")],
) -> None:
    """Register an experiment (arms with a control, assignment column, metric columns,
    start and end) on a dataset registered for DP aggregates.
    Example: comity experiment register --requester service:growth @coupon.json"""
    from pydantic import ValidationError

    from compliance.errors import InputError
    from compliance.files import read_text
    from privacy.experiments.schemas import ExperimentIn
    from privacy.experiments.service import ExperimentService

    source = spec_json[1:] if spec_json.startswith("@") else None
    text = read_text(Path(source)) if source is not None else spec_json
    try:
        body = ExperimentIn.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise InputError(f"{where}: {err['msg']}", file=source or "SPEC_JSON") from None
    services = existing_services()
    out = ExperimentService(services.db, services.policies, services.aggregates).register(
        requester, body, actor="cli")
    print(out.model_dump_json(indent=2))


@experiment_app.command("readout")
@reports_errors()
def experiment_readout(
    key: Annotated[str, typer.Argument(help="Experiment key")],
    requester: Annotated[str, typer.Option(help="service:<name> that registered it")],
    epsilon: Annotated[float, typer.Option(min=0.0, help="Budget to spend on the readout")]
    = 1.0,
) -> None:
    """DP conversion and mean spend per arm with 95% intervals and the differences to the
    control, charged to the service's budget; refused while an arm is below the minimum.
    Example: comity experiment readout coupon-1 --requester service:growth --epsilon 1.5"""
    from privacy.experiments.service import ExperimentService

    services = existing_services()
    out = ExperimentService(services.db, services.policies, services.aggregates).readout(
        requester, key, epsilon, actor="cli")
    print(out.model_dump_json(indent=2))
