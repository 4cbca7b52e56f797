"""/v1/governance: the alliance agreement, impact assessments, cross-border transfers and
incidents (issue 22). Thin over `compliance.governance.service`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep
from compliance.governance.schemas import (
    assessment_json,
    incident_json,
    mechanism_json,
    transfer_json,
)
from compliance.governance.service import (
    GovernanceService,
    notification_draft,
    record_transfer_or_raise,
)
from compliance.policy.governance import Governance, load_governance
from compliance.policy.schemas import PolicySet

router = APIRouter(prefix="/v1/governance", tags=["governance"])
_LOADED: dict[int, Governance] = {}


def _gov(policies: PolicySet) -> Governance:
    """Loaded once per policy set (the app's is loaded once)."""
    if id(policies) not in _LOADED:
        _LOADED[id(policies)] = load_governance(policies)
    return _LOADED[id(policies)]


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=64)
    sensitive: bool = False


class MechanismIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handler: str = Field(min_length=1, max_length=64)
    kind: Literal["standard_contract", "certification", "security_assessment"]
    reference: str = Field(min_length=1, max_length=200)
    valid_until: date


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handler: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    individuals: int = Field(ge=0, le=2**31 - 1)
    sensitive: int = Field(0, ge=0, le=2**31 - 1)
    ciio: bool = False


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=2000)
    affected: dict[str, dict[str, Annotated[int, Field(ge=0, le=2**31 - 1)]]] = Field(
        default_factory=dict, description="brand -> jurisdiction -> subjects affected")
    categories: str = Field("", max_length=500)
    causes: str = Field("", max_length=500)
    possible_harm: str = Field("", max_length=500)
    remedial_measures: str = Field("", max_length=500)
    contact: str = Field("", max_length=200)






@router.get("/agreement")
def agreement(principal: PrincipalDep, policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo", "admin", "brand")
    return _gov(policies).agreement.model_dump(mode="json")


@router.post("/assessments", status_code=201)
def draft_assessment(body: DraftIn, db: DatabaseDep, principal: PrincipalDep,
                     policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    from federation.coordinator.impact import safeguards

    with db.unit_of_work() as s:
        return assessment_json(GovernanceService(s, policies, _gov(policies)).draft_assessment(
            body.purpose, facts=safeguards(s, body.purpose), author=principal.actor,
            author_id=principal.principal_id, sensitive=body.sensitive))


@router.post("/assessments/{assessment_id}/approve")
def approve_assessment(assessment_id: str, db: DatabaseDep, principal: PrincipalDep,
                       policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo")
    with db.unit_of_work() as s:
        return assessment_json(GovernanceService(s, policies, _gov(policies)).approve_assessment(
            assessment_id, actor=principal.actor, principal_id=principal.principal_id))


@router.get("/assessments")
def list_assessments(session: ReadSessionDep, principal: PrincipalDep,
                     policies: PoliciesDep) -> list[dict[str, Any]]:
    principal.require("dpo", "admin")
    return [assessment_json(r) for r in GovernanceService(session, policies,
                                                      _gov(policies)).assessments()]


@router.post("/transfers/mechanisms", status_code=201)
def add_mechanism(body: MechanismIn, db: DatabaseDep, principal: PrincipalDep,
                  policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo")
    with db.unit_of_work() as s:
        row = GovernanceService(s, policies, _gov(policies)).add_mechanism(
            body.handler, body.kind, body.reference, body.valid_until, actor=principal.actor)
        return mechanism_json(row)


@router.post("/transfers", status_code=201)
def record_transfer(body: TransferIn, db: DatabaseDep, principal: PrincipalDep,
                    policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    row = record_transfer_or_raise(
        db, policies, _gov(policies), body.handler, recipient=body.recipient,
        country=body.country, individuals=body.individuals, sensitive=body.sensitive,
        ciio=body.ciio, actor=principal.actor)
    return transfer_json(row)


@router.post("/incidents", status_code=201)
def open_incident(body: IncidentIn, db: DatabaseDep, principal: PrincipalDep,
                  policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    details = body.model_dump(exclude={"summary", "affected"})
    with db.unit_of_work() as s:
        return incident_json(GovernanceService(s, policies, _gov(policies)).open_incident(
            source="manual", summary=body.summary, details=details, affected=body.affected,
            actor=principal.actor))


@router.get("/incidents")
def list_incidents(session: ReadSessionDep, principal: PrincipalDep,
                   policies: PoliciesDep) -> list[dict[str, Any]]:
    principal.require("dpo", "admin")
    return [incident_json(r) for r in GovernanceService(session, policies,
                                                    _gov(policies)).incidents()]


@router.get("/incidents/{incident_id}/notice", response_class=PlainTextResponse)
def incident_notice(incident_id: str, session: ReadSessionDep, principal: PrincipalDep,
                    policies: PoliciesDep,
                    lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> str:
    principal.require("dpo", "admin")
    return notification_draft(GovernanceService(session, policies, _gov(policies))
                              .get_incident(incident_id), lang)
