"""/v1/reports/{period}: the DPO report for a period, as JSON, HTML or PDF."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import DatabaseDep, PrincipalDep
from compliance.report.issue import issue_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])
# A report holds personal-data statistics: no shared or browser cache keeps a copy (RFC 9111
# 5.2.2.5), and a browser renders it only as the type it is sent as (no MIME sniffing).
REPORT_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/{period}", response_model=None)
def report(period: str, db: DatabaseDep, principal: PrincipalDep,
           format: Annotated[Literal["json", "html", "pdf"], Query()] = "json",  # noqa: A002
           lang: Annotated[Literal["en", "zh"], Query()] = "en") -> Response:
    """Each issued report is audited (`report.issued`) with the SHA-256 of the exact bytes
    returned, also sent as the `X-Report-SHA256` header, so an archived copy can be checked."""
    principal.require("dpo")
    issued = issue_report(db, period, fmt=format, lang=lang, actor=principal.actor)
    headers = {"X-Report-SHA256": issued.sha256, "X-Audit-Seq": str(issued.audit_seq),
               **REPORT_HEADERS}
    if format == "pdf":
        headers["Content-Disposition"] = f'attachment; filename="comity-report-{period}.pdf"'
    return Response(issued.body, media_type=issued.media_type, headers=headers)
