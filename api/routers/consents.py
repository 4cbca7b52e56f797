"""/v1/consents: append-only consent events, with Idempotency-Key retries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import MAX_DB_INT, DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep, brand_scope
from api.routers.gpc import opt_out
from compliance.consent.errors import OverloadedError
from compliance.consent.schemas import (
    ConsentBatchIn,
    ConsentBatchOut,
    ConsentIn,
    ConsentOut,
    ConsentStateOut,
)
from compliance.consent.service import ConsentService, ConsentWrite
from compliance.consent.writer import ConsentWriter

router = APIRouter(prefix="/v1/consents", tags=["consent"])


def get_writer(request: Request) -> ConsentWriter:
    """The app's one group-commit writer, made on first use."""
    state = request.app.state
    writer: ConsentWriter | None = getattr(state, "consent_writer", None)
    if writer is None:
        writer = state.consent_writer = ConsentWriter(state.db, state.policies)
    return writer


@router.post("", response_model=ConsentOut, status_code=201,
             responses={503: {"description": "At capacity: nothing recorded; retry with "
                                             "the same Idempotency-Key after Retry-After"}})
async def record_consent(body: ConsentIn, request: Request, principal: PrincipalDep,
                         idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
                         sec_gpc: Annotated[str | None, Header(alias="Sec-GPC",
                                                               max_length=8)] = None
                         ) -> Response:
    """Queued for the group-commit writer (`compliance.consent.writer`): answered after the
    commit that holds the event. 201 for a new event, 200 for a retry that matched the first
    one, 503 with Retry-After when the writer is too far behind (nothing was written).
    `Sec-GPC: 1` also opts the subject out of sale and sharing, after the event so the
    opt-out wins (11 CCR 7025(c)); the refused purposes are in `Sec-GPC-Refused`."""
    principal.require("brand", "admin")
    brand_scope(principal, body.brand_id)
    try:
        out, created = await get_writer(request).record(ConsentWrite(
            body, principal.actor, idempotency_key, principal.principal_id))
    except OverloadedError as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code,
                            headers=exc.headers)
    headers = {}
    if sec_gpc == "1":
        refused = await run_in_threadpool(opt_out, request.app.state.db,
                                          request.app.state.policies, principal,
                                          body.brand_id, body.subject)
        headers["Sec-GPC-Refused"] = ",".join(refused)
    return Response(out.model_dump_json(), status_code=201 if created else 200,
                    media_type="application/json", headers=headers)


@router.post("/batch", response_model=ConsentBatchOut)
def import_consents(body: ConsentBatchIn, db: DatabaseDep, principal: PrincipalDep,
                    policies: PoliciesDep) -> ConsentBatchOut:
    """A brand's consent import, one batch per request and one transaction per batch: a bad
    event refuses the batch (nothing of it is written), a retried one adds nothing twice."""
    principal.require("brand", "admin")
    for item in body.events:
        brand_scope(principal, item.brand_id)
    with db.unit_of_work() as session:
        created, replayed = ConsentService(session).record_many(
            body.events, actor=principal.actor, policies=policies,
            principal_id=principal.principal_id)
    return ConsentBatchOut(created=created, replayed=replayed)


@router.get("", response_model=list[ConsentOut])
def list_consents(session: ReadSessionDep, principal: PrincipalDep,
                  brand_id: str | None = None, subject: str | None = None,
                  purpose: str | None = None,
                  after_id: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ConsentOut]:
    principal.require("brand", "dpo", "admin")
    return ConsentService(session).list_events(
        brand_id=brand_scope(principal, brand_id), subject=subject, purpose=purpose,
        after_id=after_id, limit=limit)


@router.get("/state", response_model=ConsentStateOut)
def consent_state(brand_id: str, subject: str, session: ReadSessionDep,
                  principal: PrincipalDep) -> ConsentStateOut:
    principal.require("brand", "dpo", "admin")
    brand_scope(principal, brand_id)
    return ConsentStateOut(brand_id=brand_id, subject=subject,
                           states=ConsentService(session).states(brand_id, subject))
