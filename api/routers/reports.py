"""/v1/reports/{period}: the DPO report for a period, as JSON, HTML or PDF."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import PrincipalDep, ReadSessionDep
from compliance.report.builder import build_period_report
from compliance.report.period import parse_period
from compliance.report.render import render_html, render_pdf

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/{period}", response_model=None)
def report(period: str, session: ReadSessionDep, principal: PrincipalDep,
           format: Annotated[Literal["json", "html", "pdf"], Query()] = "json",  # noqa: A002
           lang: Annotated[Literal["en", "zh"], Query()] = "en",
           ) -> dict[str, Any] | Response:
    principal.require("dpo")
    built = build_period_report(session, parse_period(period), lang=lang)
    if format == "pdf":
        return Response(render_pdf(built), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="comity-report-{period}.pdf"'})
    return HTMLResponse(render_html(built)) if format == "html" else built
