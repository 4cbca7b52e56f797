"""/v1/audit: chain verification and inclusion proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import MAX_DB_INT, PrincipalDep, ReadSessionDep
from compliance.audit.service import AuditLog

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verify")
def verify(session: ReadSessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    res = AuditLog(session).verify()
    return {"verified": res.verified, "events": res.events, "head": res.head_hash,
            "first_bad_seq": res.first_bad_seq, "problem": res.problem}


@router.get("/proof/{seq}")
def proof(seq: Annotated[int, Path(ge=1, le=MAX_DB_INT)], session: ReadSessionDep,
          principal: PrincipalDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    return AuditLog(session).proof(seq)
