"""/v1/consents/gpc: the Global Privacy Control signal on the consent API (issue 22). A
brand forwards a visitor's `Sec-GPC: 1`; it is an opt-out of sale and sharing (11 CCR 7025;
Cal. Civ. Code 1798.135), recorded at once as refusals of the purposes that
policies/requests.yaml lists for `opt_out_sale`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DatabaseDep, PoliciesDep, PrincipalDep, brand_scope
from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.schemas import PolicySet
from compliance.requests.service import RequestService
from compliance.tokens.service import Principal

router = APIRouter(prefix="/v1/consents", tags=["consent"])


class GpcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.post("/gpc")
def global_privacy_control(body: GpcIn, db: DatabaseDep, principal: PrincipalDep,
                           policies: PoliciesDep,
                           sec_gpc: Annotated[str | None, Header(alias="Sec-GPC",
                                                                 max_length=8)] = None
                           ) -> dict[str, Any]:
    principal.require("brand", "admin")
    brand_scope(principal, body.brand_id)
    if sec_gpc != "1":
        raise InputError("send the visitor's Sec-GPC: 1 header", column="Sec-GPC")
    refused = opt_out(db, policies, principal, body.brand_id, body.subject)
    return {"brand_id": body.brand_id, "subject": body.subject, "refused": refused}


def opt_out(db: Database, policies: PolicySet, principal: Principal, brand_id: str,
            subject: str) -> list[str]:
    """The signal honoured in a unit of work of its own; the one path for both
    /v1/consents/gpc and `Sec-GPC: 1` on POST /v1/consents."""
    with db.unit_of_work() as session:
        return RequestService(session, policies).gpc_opt_out(
            brand_id, subject, actor=principal.actor, principal_id=principal.principal_id)
