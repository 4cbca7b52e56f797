"""/v1/consents: append-only consent events, with Idempotency-Key retries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.deps import MAX_DB_INT, DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep, brand_scope
from compliance.consent.schemas import (
    ConsentBatchIn,
    ConsentBatchOut,
    ConsentIn,
    ConsentOut,
    ConsentStateOut,
)
from compliance.consent.service import ConsentService

router = APIRouter(prefix="/v1/consents", tags=["consent"])


@router.post("", response_model=ConsentOut, status_code=201)
async def record_consent(body: ConsentIn, db: DatabaseDep, principal: PrincipalDep,
                         policies: PoliciesDep,
                         idempotency_key: Annotated[str | None, Header(max_length=128)] = None
                         ) -> Response:
    """Runs on the event loop: writes are serialized anyway, and a few milliseconds of
    inline work cost less than worker-thread hops fighting over the GIL at 200 requests/s.
    Answers 201 for a new event, 200 for a retry that matched the first one."""
    principal.require("brand", "admin")
    brand_scope(principal, body.brand_id)
    with db.unit_of_work() as session:
        out, created = ConsentService(session).record(body, actor=principal.actor,
                                                      policies=policies,
                                                      idempotency_key=idempotency_key,
                                                      principal_id=principal.principal_id)
    return Response(out.model_dump_json(), status_code=201 if created else 200,
                    media_type="application/json")


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
