"""/dpo: the DPO's web view. A static page; every figure on it comes from the API with the
DPO's own bearer token, kept in the tab's session storage only."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["dpo"])


@cache
def _page() -> str:
    return (Path(__file__).parent.parent / "static" / "dpo.html").read_text(encoding="utf-8")


@router.get("/dpo", response_class=HTMLResponse, include_in_schema=False)
def dpo_view() -> HTMLResponse:
    return HTMLResponse(_page(), headers={
        "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                   "style-src 'unsafe-inline'; frame-src 'self' about:",
        "X-Frame-Options": "DENY"})
