"""/v1/retention/sweep: run the retention rules now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import PoliciesDep, PrincipalDep
from compliance.retention.service import RetentionService

router = APIRouter(prefix="/v1/retention", tags=["retention"])


@router.post("/sweep")
def sweep(request: Request, principal: PrincipalDep, policies: PoliciesDep) -> dict[str, Any]:
    principal.require("dpo", "admin")
    svc = RetentionService(request.app.state.db, policies, actor=principal.actor)
    report = svc.sweep()
    return {"actions": report.actions, "batches": report.batches, "total": report.total,
            "still_overdue": svc.overdue()}
