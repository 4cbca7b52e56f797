"""/dpo: the DPO's web view. A static page; every figure on it comes from the API with the
DPO's own bearer token, kept in the tab's session storage only. Its script is a file of its
own (/dpo.js), so the Content-Security-Policy allows scripts from this server only: no
inline script, and so no injected one, can run (CSP Level 3, `script-src`). Styles stay
inline: the report shown in the sandboxed frame inherits the page's policy and carries its
own `<style>`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.routers import console

router = APIRouter(tags=["dpo"])
router.include_router(console.router)  # /dpo/console: the DPO's work pages
STATIC = Path(__file__).parent.parent / "static"
POLICY = ("default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; "
          "frame-src 'self' about:; base-uri 'none'; form-action 'none'; "
          "frame-ancestors 'none'")


@cache
def _file(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@router.get("/dpo", response_class=HTMLResponse, include_in_schema=False)
def dpo_view() -> HTMLResponse:
    return HTMLResponse(_file("dpo.html"), headers={
        "Content-Security-Policy": POLICY, "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff"})


@router.get("/dpo.js", include_in_schema=False)
def dpo_script() -> Response:
    return Response(_file("dpo.js"), media_type="text/javascript; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff"})
