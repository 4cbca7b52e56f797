"""/v1/aggregates and /v1/budgets: DP answers for internal services, and their ledgers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PrincipalDep
from privacy.aggregates.schemas import AggregateAnswer, AggregateQuery, BudgetView
from privacy.aggregates.service import AggregateService

router = APIRouter(tags=["aggregates"])


def _service(request: Request) -> AggregateService:
    return request.app.state.aggregates  # type: ignore[no-any-return]


@router.post("/v1/aggregates", response_model=AggregateAnswer,
             responses={429: {"description": "Budget exhausted; body carries "
                                             "`epsilon_remaining`"}})
def aggregate(query: AggregateQuery, request: Request,
              principal: PrincipalDep) -> AggregateAnswer:
    """A differentially private answer; never rows. Sync: OpenDP runs on a worker thread."""
    principal.require("service", "dpo")
    return _service(request).query(principal.role, query, actor=principal.actor)


@router.get("/v1/budgets", response_model=list[BudgetView])
def budgets(request: Request, principal: PrincipalDep) -> list[BudgetView]:
    """A service sees its own ledgers; the DPO and admins see all."""
    principal.require("service", "dpo", "admin")
    return _service(request).budgets(principal.role if principal.kind == "service" else None)

