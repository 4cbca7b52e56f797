"""/v1/overlaps: how many customers two brands share, by private set intersection over the
consented customers only (issue 26); a noisy size by default, charged to the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PrincipalDep
from privacy.overlap.schemas import OverlapIn, OverlapOut
from privacy.overlap.service import OverlapService

router = APIRouter(tags=["overlaps"])


def _service(request: Request) -> OverlapService:
    return request.app.state.overlaps  # type: ignore[no-any-return]


@router.post("/v1/overlaps", response_model=OverlapOut,
             responses={403: {"description": "Refused by the agreement, an assessment or "
                                             "the join key's exact_to"},
                        429: {"description": "Budget exhausted"}})
def overlap(body: OverlapIn, request: Request, principal: PrincipalDep) -> OverlapOut:
    """One PSI between two brand nodes through the coordinator's relay. Sync: it runs on a
    worker thread."""
    principal.require("service", "dpo")
    return _service(request).overlap(principal.role, body, actor=principal.actor)
