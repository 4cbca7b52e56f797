"""/v1 brand operations: the 7-day audit trace, staff's masked customer lookups and the
supervisor's confirmed reveal of one field, A/B experiments and their DP readouts. Each
endpoint parses, authorizes, calls one service and returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.deps import MAX_DB_INT, DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep
from compliance.audit.trace import MAX_LIMIT, TraceService
from compliance.errors import InputError
from privacy.experiments.schemas import ExperimentIn, ExperimentOut, Readout, ReadoutIn
from privacy.experiments.service import ExperimentService
from privacy.masking.policy import default_masking
from privacy.masking.schemas import LookupOut, RevealedValue, RevealIn, RevealOut
from privacy.masking.service import LookupService

router = APIRouter(tags=["operations"])


@router.get("/v1/audit/trace")
def trace(session: ReadSessionDep, principal: PrincipalDep, policies: PoliciesDep,
          subject: Annotated[str | None, Query(max_length=160,
                                               description="Subject pseudonym")] = None,
          run: Annotated[str | None, Query(max_length=160, description="Run id")] = None,
          actor: Annotated[str | None, Query(max_length=160,
                                             description="Actor (role#token) or role")] = None,
          since: Annotated[str, Query(max_length=20, description="Window: 7d, 24h, 90m")]
          = "7d",
          brand: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
          after: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0) -> dict[str, Any]:
    """Every processing event of one subject, run or actor in the window, with its rule,
    actor, data categories and evidence digest (the event's chained hash)."""
    principal.require("dpo", "admin")
    given = {k: v for k, v in (("subject", subject), ("run", run), ("actor", actor)) if v}
    if len(given) != 1:
        raise InputError("give exactly one of subject, run or actor", column="subject")
    (by, value), = given.items()
    return TraceService(session, policies.purpose_categories()).trace(
        by, value, since=since, brand_id=brand, limit=limit, after=after).as_json()  # type: ignore[arg-type]


BrandPath = Annotated[str, Path(max_length=64)]
SubjectPath = Annotated[str, Path(max_length=160, description="The customer's pseudonym")]
RevealPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


@router.get("/v1/brands/{brand_id}/customers/{subject}", response_model=LookupOut)
def lookup(brand_id: BrandPath, subject: SubjectPath, db: DatabaseDep,
           principal: PrincipalDep) -> LookupOut:
    """A customer's stored fields as the caller's tier sees them (brand:<id>:staff or
    :supervisor): masked, decrypted from the vault for this response only; audited."""
    with db.unit_of_work() as session:
        return LookupService(session, default_masking()).lookup(principal, brand_id, subject)


@router.post("/v1/brands/{brand_id}/customers/{subject}/reveals", response_model=RevealOut,
             status_code=201)
def request_reveal(brand_id: BrandPath, subject: SubjectPath, body: RevealIn,
                   db: DatabaseDep, principal: PrincipalDep) -> RevealOut:
    """A supervisor asks to see one field in clear, with a reason; a second principal must
    confirm it before it can be opened (once)."""
    with db.unit_of_work() as session:
        return LookupService(session, default_masking()).request_reveal(
            principal, brand_id, subject, body.field, body.reason)


@router.post("/v1/reveals/{reveal_id}/confirm", response_model=RevealOut)
def confirm_reveal(reveal_id: RevealPath, db: DatabaseDep, principal: PrincipalDep
                   ) -> RevealOut:
    """The second confirmation, by another supervisor of the brand or a DPO."""
    with db.unit_of_work() as session:
        return LookupService(session, default_masking()).confirm(principal, reveal_id)


@router.post("/v1/reveals/{reveal_id}/open", response_model=RevealedValue)
def open_reveal(reveal_id: RevealPath, db: DatabaseDep, principal: PrincipalDep
                ) -> RevealedValue:
    """The confirmed field in clear, once, to the supervisor who asked."""
    with db.unit_of_work() as session:
        return LookupService(session, default_masking()).open(principal, reveal_id)


def _experiments(request: Request) -> ExperimentService:
    return ExperimentService(request.app.state.db, request.app.state.policies,
                             request.app.state.aggregates)


@router.post("/v1/experiments", response_model=ExperimentOut, status_code=201)
def register_experiment(body: ExperimentIn, request: Request, principal: PrincipalDep
                        ) -> ExperimentOut:
    """An A/B experiment of the calling service (arms with a control, assignment column,
    metric columns, start and end), fixed before any readout; audited."""
    principal.require("service")
    return _experiments(request).register(principal.role, body, actor=principal.actor)


@router.post("/v1/experiments/{key}/readout", response_model=Readout,
             responses={409: {"description": "An arm is below the minimum size"},
                        429: {"description": "Budget exhausted"}})
def readout(key: Annotated[str, Path(max_length=64)], body: ReadoutIn, request: Request,
            principal: PrincipalDep) -> Readout:
    """DP conversion and mean spend per arm with 95% intervals and each arm's difference
    to the control, charged to the service's budget; refused while an arm is too small."""
    principal.require("service")
    return _experiments(request).readout(principal.role, key, body.epsilon,
                                         actor=principal.actor)
