"""Brand operations at the coordinator: `comity audit trace` (the 7-day trace),
`comity customer lookup|reveal|confirm|open` (masked lookups and the supervisor's confirmed
reveal, as the principal whose token is given) and `comity experiment register|readout`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.audit import app as audit_app
from api.cli.console import reports_errors
from api.composition import existing_services

if TYPE_CHECKING:
    from compliance.tokens.service import Principal

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


def _caller(token: str) -> Principal:
    from compliance.tokens.service import TokenService

    with existing_services().db.reading() as session:
        return TokenService(session).authenticate(token)


@customer_app.command("lookup")
@reports_errors()
def lookup(brand: Annotated[str, typer.Argument(help="Brand id")],
           subject: Annotated[str, typer.Argument(help="The customer's pseudonym")],
           token: TokenOpt) -> None:
    """A customer's stored fields, masked as your tier sees them (policies/masking.yaml);
    audited as `pii.lookup`.
    Example: COMITY_TOKEN=cmt_... comity customer lookup acme 3f9a0c..."""
    from privacy.masking.policy import default_masking
    from privacy.masking.service import LookupService

    principal = _caller(token)
    with existing_services().db.unit_of_work() as session:
        out = LookupService(session, default_masking()).lookup(principal, brand, subject)
    print(out.model_dump_json(indent=2))


@customer_app.command("reveal")
@reports_errors()
def reveal(brand: Annotated[str, typer.Argument(help="Brand id")],
           subject: Annotated[str, typer.Argument(help="The customer's pseudonym")],
           field: Annotated[str, typer.Option(help="The one field to see in clear")],
           reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")],
           token: TokenOpt) -> None:
    """Ask (as a supervisor) to see one field in clear; another person confirms it.
    Example: comity customer reveal acme 3f9a... --field phone --reason 'courier failed'"""
    from privacy.masking.policy import default_masking
    from privacy.masking.service import LookupService

    principal = _caller(token)
    with existing_services().db.unit_of_work() as session:
        out = LookupService(session, default_masking()).request_reveal(
            principal, brand, subject, field, reason)
    print(out.model_dump_json(indent=2))


@customer_app.command("confirm")
@reports_errors()
def confirm(reveal_id: Annotated[int, typer.Argument(min=1, help="Reveal id")],
            token: TokenOpt) -> None:
    """The second confirmation of a reveal (another supervisor of the brand, or a dpo).
    Example: COMITY_TOKEN=cmt_... comity customer confirm 7"""
    from privacy.masking.policy import default_masking
    from privacy.masking.service import LookupService

    principal = _caller(token)
    with existing_services().db.unit_of_work() as session:
        out = LookupService(session, default_masking()).confirm(principal, reveal_id)
    print(out.model_dump_json(indent=2))


@customer_app.command("open")
@reports_errors()
def open_reveal(reveal_id: Annotated[int, typer.Argument(min=1, help="Reveal id")],
                token: TokenOpt) -> None:
    """The confirmed field in clear, once, to the supervisor who asked.
    Example: COMITY_TOKEN=cmt_... comity customer open 7"""
    from privacy.masking.policy import default_masking
    from privacy.masking.service import LookupService

    principal = _caller(token)
    with existing_services().db.unit_of_work() as session:
        out = LookupService(session, default_masking()).open(principal, reveal_id)
    print(out.model_dump_json(indent=2))
