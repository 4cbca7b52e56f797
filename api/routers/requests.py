"""/v1/requests: data-subject requests with deadlines and two-person execution."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from api.deps import DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep, brand_scope
from compliance.errors import NotFoundError
from compliance.requests.schemas import RequestIn, RequestOut, RequestPatch
from compliance.requests.service import RequestService
from compliance.tokens.service import Principal
from privacy.vault.service import Vault

router = APIRouter(prefix="/v1/requests", tags=["requests"])


def _load(svc: RequestService, request_id: str, principal: Principal) -> Any:
    """Another brand's request answers as a missing one does, with the same body: a 403
    would tell a brand that the id exists. The id is not repeated back (issue 19)."""
    try:
        req = svc.get(request_id)
    except NotFoundError:
        req = None
    if req is None or (principal.kind == "brand" and req.brand_id != principal.brand_id):
        raise NotFoundError("no such request")
    return req


@router.post("", response_model=RequestOut, status_code=201)
def open_request(body: RequestIn, db: DatabaseDep, principal: PrincipalDep,
                 policies: PoliciesDep, response: Response,
                 idempotency_key: Annotated[str | None, Header(max_length=128)] = None
                 ) -> RequestOut:
    principal.require("brand", "dpo", "admin")
    brand_scope(principal, body.brand_id)
    with db.unit_of_work() as session:
        out, created = RequestService(session, policies).open(
            body, actor=principal.actor, principal_id=principal.principal_id,
            idempotency_key=idempotency_key)
        if not created:
            response.status_code = 200
        return out


@router.get("", response_model=list[RequestOut])
def list_requests(session: ReadSessionDep, principal: PrincipalDep, policies: PoliciesDep,
                  brand_id: str | None = None, status: str | None = None,
                  overdue: bool | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[RequestOut]:
    principal.require("brand", "dpo", "admin")
    return RequestService(session, policies).list_requests(
        brand_id=brand_scope(principal, brand_id), status=status, overdue=overdue,
        limit=limit)


@router.patch("/{request_id}", response_model=RequestOut)
def update_request(request_id: str, patch: RequestPatch, db: DatabaseDep,
                   principal: PrincipalDep, policies: PoliciesDep) -> RequestOut:
    principal.require("dpo", "admin")
    with db.unit_of_work() as session:
        svc = RequestService(session, policies)
        return svc.update(_load(svc, request_id, principal), patch, actor=principal.actor)


@router.post("/{request_id}/approve", response_model=RequestOut)
def approve_request(request_id: str, db: DatabaseDep, principal: PrincipalDep,
                    policies: PoliciesDep) -> RequestOut:
    principal.require("dpo", "admin")
    with db.unit_of_work() as session:
        svc = RequestService(session, policies)
        return svc.approve(_load(svc, request_id, principal), actor=principal.actor,
                           principal_id=principal.principal_id)


@router.post("/{request_id}/execute")
def execute_request(request_id: str, db: DatabaseDep, principal: PrincipalDep,
                    policies: PoliciesDep) -> dict[str, Any]:
    principal.require("brand", "dpo", "admin")
    with db.unit_of_work() as session:
        svc = RequestService(session, policies)
        out, export = svc.execute(_load(svc, request_id, principal), actor=principal.actor,
                                  principal_id=principal.principal_id, vault=Vault(session))
        return {"request": out.model_dump(mode="json"), "export": export}
