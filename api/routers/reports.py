"""/v1/reports/{period}: the DPO report for a period, as JSON or HTML."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.deps import PrincipalDep, ReadSessionDep
from compliance.report.builder import build_period_report
from compliance.report.period import parse_period
from compliance.report.render import render_html

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/{period}", response_model=None)
def report(period: str, session: ReadSessionDep, principal: PrincipalDep,
           format: Annotated[Literal["json", "html"], Query()] = "json",  # noqa: A002
           lang: Annotated[Literal["en", "zh"], Query()] = "en",
           ) -> dict[str, Any] | HTMLResponse:
    principal.require("dpo")
    built = build_period_report(session, parse_period(period), lang=lang)
    return HTMLResponse(render_html(built)) if format == "html" else built
