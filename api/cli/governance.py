"""The alliance's governance at the coordinator: the agreement, impact assessments,
cross-border transfers and security incidents (issue 22). Thin over
`compliance.governance.service`."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

from api.cli.admin import _operator
from api.cli.console import reports_errors
from api.composition import default_services, existing_services
from compliance.errors import InputError
from compliance.governance.schemas import (
    assessment_json,
    incident_json,
    mechanism_json,
    transfer_json,
)

agreement_app = typer.Typer(help="The alliance agreement (PIPL Art. 20-21).",
                            no_args_is_help=True)
assessment_app = typer.Typer(help="Impact assessments (PIPL Art. 55-56; GDPR Art. 35).",
                             no_args_is_help=True)
transfer_app = typer.Typer(help="Cross-border transfers (PIPL Art. 38-40).",
                           no_args_is_help=True)
incident_app = typer.Typer(help="Security incidents (PIPL Art. 57; GDPR Art. 33-34).",
                           no_args_is_help=True)

PrincipalOpt = Annotated[str, typer.Option(
    "--principal", help="Who does this (a person, e.g. alice@dpo); the approver of an "
                        "assessment must be another principal than its author")]


def _gov() -> Any:
    from compliance.policy.governance import load_governance

    return load_governance(default_services().policies)


def _svc(session: Any) -> Any:
    from compliance.governance.service import GovernanceService

    return GovernanceService(session, default_services().policies, _gov())


def _person(session: Any, name: str) -> int:
    from compliance.tokens.service import TokenService

    return int(TokenService(session).principal(name, kind="person", actor=_operator()).id)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))






@agreement_app.command("show")
@reports_errors()
def agreement_show() -> None:
    """The agreement in force: version, parties and roles, purposes and categories each may
    contribute, retention and what happens at the end.
    Example: comity agreement show"""
    _print(_gov().agreement.model_dump(mode="json"))


@assessment_app.command("draft")
@reports_errors()
def assessment_draft(
    purpose: Annotated[str, typer.Option(help="The purpose assessed (policies/purposes.yaml)")],
    principal: PrincipalOpt,
    sensitive: Annotated[bool, typer.Option(help="The processing uses sensitive data")] = False,
) -> None:
    """Draft an assessment from what comity knows (purpose, categories, recipients,
    safeguards measured on the latest run, retention).
    Example: comity assessment draft --purpose personalized_recommendation --principal bob@ops"""
    from federation.coordinator.impact import safeguards

    with default_services().db.unit_of_work() as s:
        row = _svc(s).draft_assessment(purpose, facts=safeguards(s, purpose),
                                       author=f"cli:{principal}", author_id=_person(s, principal),
                                       sensitive=sensitive)
        _print(assessment_json(row))


@assessment_app.command("approve")
@reports_errors()
def assessment_approve(assessment_id: Annotated[str, typer.Argument(
                           metavar="ID", help="The draft's id (comity assessment list)")],
                       principal: PrincipalOpt) -> None:
    """Approve a draft as the DPO (another principal than its author).
    Example: comity assessment approve 3f2c... --principal alice@dpo"""
    with existing_services().db.unit_of_work() as s:
        row = _svc(s).approve_assessment(assessment_id, actor=f"cli:{principal}",
                                         principal_id=_person(s, principal))
        _print(assessment_json(row))


@assessment_app.command("list")
@reports_errors()
def assessment_list() -> None:
    """Every assessment with its status, expiry and retention date (JSON).
    Example: comity assessment list"""
    with existing_services().db.reading() as s:
        _print([assessment_json(r, content=False) for r in _svc(s).assessments()])


@transfer_app.command("mechanism", epilog=(
    "Example: comity transfer mechanism --handler lumen-tea --kind standard_contract "
    "--reference SC-2026-001 --valid-until 2027-12-31"))
@reports_errors()
def transfer_mechanism(
    handler: Annotated[str, typer.Option(help="The party providing abroad")],
    kind: Annotated[str, typer.Option(help="standard_contract | certification | "
                                           "security_assessment")],
    reference: Annotated[str, typer.Option(help="Filing or approval number")],
    valid_until: Annotated[str, typer.Option(help="YYYY-MM-DD")],
) -> None:
    """Put a transfer mechanism on record (Provisions Art. 7-8)."""
    try:
        until = date.fromisoformat(valid_until)
    except ValueError as exc:
        raise InputError("use YYYY-MM-DD", column="--valid-until") from exc
    with default_services().db.unit_of_work() as s:
        row = _svc(s).add_mechanism(handler, kind, reference, until, actor=_operator())
        _print(mechanism_json(row))


@transfer_app.command("record", epilog=(
    "Example: comity transfer record --handler lumen-tea --recipient acme-sg --country SG "
    "--individuals 800"))
@reports_errors()
def transfer_record(
    handler: Annotated[str, typer.Option(help="The party providing abroad")],
    recipient: Annotated[str, typer.Option(help="The overseas recipient")],
    country: Annotated[str, typer.Option(help="ISO 3166 alpha-2")],
    individuals: Annotated[int, typer.Option(min=0, help="Individuals in this transfer")],
    sensitive: Annotated[int, typer.Option(min=0, help="Of them, with sensitive PI")] = 0,
    ciio: Annotated[bool, typer.Option(help="The handler is a CII operator")] = False,
) -> None:
    """Record a transfer abroad; refused (exit 2, with the rule id) when the year's totals
    reach a band whose mechanism is not on record."""
    from compliance.governance.service import record_transfer_or_raise

    services = default_services()
    row = record_transfer_or_raise(services.db, services.policies, _gov(), handler,
                                   recipient=recipient, country=country,
                                   individuals=individuals, sensitive=sensitive, ciio=ciio,
                                   actor=_operator())
    _print(transfer_json(row))


@incident_app.command("open", epilog=(
    "Example: comity incident open --summary \"a lost laptop\" "
    "--affected '{\"lumen-tea\": {\"pipl\": 12}}'"))
@reports_errors()
def incident_open(
    summary: Annotated[str, typer.Option(help="What happened (no personal data)")],
    affected: Annotated[str, typer.Option(
        help='Subjects affected by brand and law, JSON: {"lumen-tea": {"pipl": 12}}')] = "{}",
    categories: Annotated[str, typer.Option(help="Categories of PI involved")] = "",
    causes: Annotated[str, typer.Option(help="Causes")] = "",
    possible_harm: Annotated[str, typer.Option(help="Possible harm")] = "",
    remedial_measures: Annotated[str, typer.Option(help="Remedial measures")] = "",
    contact: Annotated[str, typer.Option(help="Contact for the subjects")] = "",
) -> None:
    """Open an incident by hand: deadlines per jurisdiction from policies/incidents.yaml."""
    try:
        counts = json.loads(affected)
        ok = isinstance(counts, dict) and all(
            isinstance(v, dict) and all(isinstance(n, int) for n in v.values())
            for v in counts.values())
    except json.JSONDecodeError:
        ok = False
    if not ok:
        raise InputError('expected {"brand": {"law": count}}', column="--affected")
    with default_services().db.unit_of_work() as s:
        row = _svc(s).open_incident(
            source="manual", summary=summary, affected=counts, actor=_operator(),
            details={"categories": categories, "causes": causes,
                     "possible_harm": possible_harm, "remedial_measures": remedial_measures,
                     "contact": contact})
        _print(incident_json(row))


@incident_app.command("list")
@reports_errors()
def incident_list() -> None:
    """Every incident with its deadlines (JSON).
    Example: comity incident list"""
    with existing_services().db.reading() as s:
        _print([incident_json(r) for r in _svc(s).incidents()])


@incident_app.command("notice")
@reports_errors()
def incident_notice(incident_id: Annotated[str, typer.Argument(
                        metavar="ID", help="The incident's id (comity incident list)")],
                    lang: Annotated[str, typer.Option(help="zh or en")] = "zh") -> None:
    """The notification draft for the authority and the subjects.
    Example: comity incident notice 7b1e... --lang en"""
    from compliance.governance.service import notification_draft

    with existing_services().db.reading() as s:
        print(notification_draft(_svc(s).get_incident(incident_id), lang), end="")
