"""/v1/audit: chain verification, inclusion proofs, and what brands witness: the newest signed
tree head, consistency proofs between two heads, and the brand's word that it checked one."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.deps import MAX_DB_INT, DatabaseDep, PrincipalDep, ReadSessionDep
from compliance.audit.schemas import WitnessIn, WitnessOut
from compliance.audit.service import AuditLog
from compliance.audit.witnesses import WitnessService

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verify")
def verify(session: ReadSessionDep, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    principal.require("dpo", "admin")
    res = AuditLog(session).verify()
    request.app.state.metrics.observe_verification(res)
    return {"verified": res.verified, "events": res.events, "head": res.head_hash,
            "first_bad_seq": res.first_bad_seq, "problem": res.problem, "rows": list(res.rows)}


@router.get("/proof/{seq}")
def proof(seq: Annotated[int, Path(ge=1, le=MAX_DB_INT)], session: ReadSessionDep,
          principal: PrincipalDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    return AuditLog(session).proof(seq)


@router.get("/checkpoints/latest")
def latest_tree_head(session: ReadSessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The newest signed tree head (RFC 6962 head of events 1..tree_size, Ed25519-signed)."""
    principal.require("brand", "dpo", "admin")
    return AuditLog(session).tree_head().as_json()


@router.get("/consistency")
def consistency(session: ReadSessionDep, principal: PrincipalDep,
                first: Annotated[int, Query(alias="from", ge=1, le=MAX_DB_INT,
                                            description="Tree size of the older signed head")],
                second: Annotated[int, Query(alias="to", ge=1, le=MAX_DB_INT,
                                             description="Tree size of the newer signed head")]
                ) -> dict[str, Any]:
    """Both signed heads and the RFC 6962 §2.1.2 consistency proof between them (hex)."""
    principal.require("brand", "dpo", "admin")
    return AuditLog(session).consistency(first, second)


@router.post("/witness", response_model=WitnessOut)
def witness(body: WitnessIn, db: DatabaseDep, principal: PrincipalDep) -> WitnessOut:
    """A brand node's word that it verified this signed head and its consistency with every
    head it saw before; idempotent. Audited as `audit.witnessed`."""
    principal.require("brand")
    assert principal.brand_id is not None
    with db.unit_of_work() as session:
        seen = WitnessService(session).record(principal.brand_id, body.tree_size,
                                              body.tree_root, actor=principal.actor)
    return WitnessOut(**asdict(seen))
