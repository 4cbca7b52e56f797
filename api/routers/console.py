"""/dpo/console: the DPO's work pages, rendered on the server from the same services the API
uses (requests, consent, lineage, budgets, the report builder). No script at all, so the
Content-Security-Policy is `script-src 'none'` and styles come from one file of this server:
nothing inline can run or restyle the page (CSP Level 3). Forms post back to the same origin
only (`form-action 'self'`).

Sign-in takes the DPO's bearer token once and keeps it in an HttpOnly, SameSite=Strict cookie
scoped to /dpo/console; every form carries a token derived from it (double submit), so a
cross-site form cannot act in the DPO's name. Every action goes through the request service,
which applies the two-person rule by principal and writes the audit event."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.deps import MAX_DB_INT, DatabaseDep, PoliciesDep, authenticate
from compliance.audit.trace import TraceService
from compliance.database import Database, utcnow
from compliance.errors import ComityError, InputError
from compliance.report.builder import build_period_report
from compliance.report.charts import burn_down
from compliance.report.period import Period, parse_period
from compliance.report.render import render_html, when
from compliance.report.subject_history import subject_histories
from compliance.report.zh import law_zh
from compliance.requests.schemas import RequestPatch
from compliance.requests.service import CLOSED, NEEDS_SECOND_PERSON, RequestService
from compliance.tokens.service import AuthError, Principal
from privacy.vault.service import Vault

router = APIRouter(prefix="/dpo/console", include_in_schema=False)
HERE = Path(__file__).resolve().parent.parent
COOKIE = "comity_console"
PAGE_POLICY = ("default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The report keeps its own <style> so that it prints the same anywhere; it has no script.
REPORT_POLICY = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
                 "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_ENV = Environment(loader=FileSystemLoader(HERE / "templates" / "console"),
                   autoescape=select_autoescape(["html", "j2"]))
_ENV.filters.update(when=when, law=law_zh)
PAGES = ("requests", "subjects", "trace", "runs", "budgets", "checklist")
TRACE_BY = ("subject", "run", "actor")
TRACE_PAGE = 500  # events per page; `after` reads on


def _lang(lang: str | None) -> str:
    return "zh" if lang == "zh" else "en"


def current_quarter(now: datetime | None = None) -> Period:
    at = (now or utcnow()).astimezone(UTC)
    return parse_period(f"{at.year}-Q{(at.month - 1) // 3 + 1}")


def csrf_token(bearer: str) -> str:
    """Derived from the signed-in token: a page of this origin can read it, another site
    cannot, and it dies with the token."""
    return hmac.new(bearer.encode(), b"comity-console-csrf", hashlib.sha256).hexdigest()[:32]


def _signed_in(db: Database, bearer: str | None) -> Principal | None:
    if not bearer:
        return None
    try:
        principal = authenticate(db, f"Bearer {bearer}")
    except AuthError:
        return None
    return principal if principal.kind in ("dpo", "admin") else None


def _page(name: str, lang: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    zh = lang == "zh"

    def t(en: str, cn: str) -> str:
        return cn if zh else en

    html = _ENV.get_template(f"{name}.html.j2").render(lang=lang, zh=zh, t=t, pages=PAGES,
                                                       page=name, **ctx)
    return HTMLResponse(html, status_code=status,
                        headers={"Content-Security-Policy": PAGE_POLICY, **HEADERS})


def _back(path: str, lang: str, **query: str) -> RedirectResponse:
    extra = "".join(f"&{k}={quote(v)}" for k, v in query.items())
    return RedirectResponse(f"/dpo/console/{path}?lang={lang}{extra}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, max_num_fields=20).items()}


@router.get("/console.css")
def stylesheet() -> Response:
    return Response((HERE / "static" / "console.css").read_text(encoding="utf-8"),
                    media_type="text/css; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff"})


@router.get("", response_class=HTMLResponse)
def home(db: DatabaseDep, lang: str | None = None,
         comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    if _signed_in(db, comity_console) is None:
        return _page("signin", _lang(lang))
    return _back("requests", _lang(lang))


@router.post("/signin")
async def signin(request: Request, db: DatabaseDep) -> Response:
    form = await _form(request)
    lang, token = _lang(form.get("lang")), form.get("token", "").strip()
    principal = _signed_in(db, token)
    if principal is None:
        return _page("signin", lang, status=401,
                     error="the token is not a valid dpo or admin token")
    out = _back("requests", lang)
    out.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/dpo/console",
                   secure=request.url.scheme == "https")
    return out


@router.post("/signout")
async def signout(request: Request) -> Response:
    out = _back("", _lang((await _form(request)).get("lang")))
    out.delete_cookie(COOKIE, path="/dpo/console")
    return out


def _guard(db: Database, bearer: str | None, lang: str) -> Principal | Response:
    principal = _signed_in(db, bearer)
    return principal if principal is not None else _page("signin", lang, status=401)


def _overdue_first(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (not r.overdue, r.due_at))


@router.get("/requests", response_class=HTMLResponse)
def requests_page(db: DatabaseDep, policies: PoliciesDep, lang: str | None = None,
                  done: str | None = None, error: str | None = None,
                  comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    lang = _lang(lang)
    principal = _guard(db, comity_console, lang)
    if isinstance(principal, Response):
        return principal
    with db.reading() as session:
        svc = RequestService(session, policies)
        rows = [r for r in svc.list_requests(brand_id=None, status=None, overdue=None,
                                             limit=1000) if r.status not in CLOSED]
    now = utcnow()
    return _page("requests", lang, me=principal, requests=_overdue_first(rows),
                 days_left=lambda r: (r.due_at - now).days, second=NEEDS_SECOND_PERSON,
                 csrf=csrf_token(comity_console or ""), done=done, error=error)


@router.post("/requests/{request_id}/{action}")
async def request_action(request_id: str, action: str, request: Request, db: DatabaseDep,
                         policies: PoliciesDep,
                         comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    form = await _form(request)
    lang = _lang(form.get("lang"))
    principal = _guard(db, comity_console, lang)
    if isinstance(principal, Response):
        return principal
    if not hmac.compare_digest(form.get("csrf", ""), csrf_token(comity_console or "")):
        return _page("signin", lang, status=403, error="the form expired: sign in again")
    if action not in ("approve", "refuse", "execute"):
        return _back("requests", lang, error=f"unknown action '{action[:20]}'")
    export: dict[str, Any] | None = None
    try:
        with db.unit_of_work() as session:
            svc = RequestService(session, policies)
            req = svc.get(request_id)
            if action == "approve":
                svc.approve(req, actor=principal.actor, principal_id=principal.principal_id)
            elif action == "refuse":
                reason = form.get("reason", "").strip()[:500]
                if not reason:
                    raise InputError("a refusal needs a reason (PIPL Art. 50: explain it)",
                                     column="reason")
                svc.update(req, RequestPatch(assignee=None, status="rejected", reason=reason),
                           actor=principal.actor)
            else:
                _, export = svc.execute(req, actor=principal.actor,
                                        principal_id=principal.principal_id,
                                        vault=Vault(session))
    except ComityError as exc:
        return _back("requests", lang, error=exc.message)
    if export is not None:  # the subject's copy: handed over, never kept (only its digest)
        return Response(json.dumps(export, ensure_ascii=False, indent=2),
                        media_type="application/json", headers={
                            **HEADERS, "Content-Disposition":
                            f'attachment; filename="export-{request_id}.json"'})
    return _back("requests", lang, done=f"{action}:{request_id}")


@router.get("/subjects", response_class=HTMLResponse)
def subject_page(db: DatabaseDep, lang: str | None = None,
                 key: Annotated[str | None, Query(max_length=64)] = None,
                 comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    lang = _lang(lang)
    principal = _guard(db, comity_console, lang)
    if isinstance(principal, Response):
        return principal
    histories = None
    if key:
        with db.unit_of_work() as session:
            histories = subject_histories(session, key.strip(), actor=principal.actor)
    return _page("subjects", lang, me=principal, key=key or "", histories=histories)


@router.get("/trace", response_class=HTMLResponse)
def trace_page(db: DatabaseDep, policies: PoliciesDep, lang: str | None = None,
               by: Annotated[str, Query(max_length=10)] = "subject",
               value: Annotated[str | None, Query(max_length=160)] = None,
               since: Annotated[str, Query(max_length=20)] = "7d",
               after: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
               comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    """The 7-day trace (`comity audit trace`, GET /v1/audit/trace) as a page: one subject,
    run or actor, every processing event in the window with its rule, actor, data
    categories and evidence digest."""
    lang = _lang(lang)
    principal = _guard(db, comity_console, lang)
    if isinstance(principal, Response):
        return principal
    found, error = None, None
    value = (value or "").strip()
    if value:
        try:
            if by not in TRACE_BY:
                raise InputError(f"trace by subject, run or actor, not '{by}'", column="by")
            with db.reading() as session:
                found = TraceService(session, policies.purpose_categories()).trace(
                    by, value, since=since, limit=TRACE_PAGE,  # type: ignore[arg-type]
                    after=after).as_json()
        except ComityError as exc:
            error = exc.message
    keep = urlencode({"by": by, "value": value, "since": since}) if value else ""
    return _page("trace", lang, status=400 if error else 200, me=principal,
                 by=by if by in TRACE_BY else "subject", value=value, since=since,
                 found=found, error=error, keep=keep)


def _report(db: Database, lang: str) -> dict[str, Any]:
    with db.reading() as session:
        return build_period_report(session, current_quarter(), lang=lang)


def _report_page(name: str, db: Database, bearer: str | None, lang: str | None,
                 **extra: Any) -> Response:
    lang = _lang(lang)
    principal = _guard(db, bearer, lang)
    if isinstance(principal, Response):
        return principal
    return _page(name, lang, me=principal, r=_report(db, lang), **extra)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(db: DatabaseDep, lang: str | None = None,
              comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    now = utcnow()

    def window(started_at: str) -> str:
        """The trace window that reaches back to a run's start (in whole days)."""
        at = datetime.fromisoformat(started_at)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return f"{max(1, (now - at).days + 1)}d"

    return _report_page("runs", db, comity_console, lang, window=window)


@router.get("/budgets", response_class=HTMLResponse)
def budgets_page(db: DatabaseDep, lang: str | None = None,
                 comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    def chart(b: dict[str, Any]) -> Markup:
        return Markup(burn_down([p[1] for p in b["points"]], b["limit_epsilon"],
                                "remaining privacy budget"))

    return _report_page("budgets", db, comity_console, lang, chart=chart)


@router.get("/checklist", response_class=HTMLResponse)
def checklist_page(db: DatabaseDep, lang: str | None = None,
                   comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    return _report_page("checklist", db, comity_console, lang)


@router.get("/report", response_class=HTMLResponse)
def report_page(db: DatabaseDep, lang: str | None = None,
                comity_console: Annotated[str | None, Cookie()] = None) -> Response:
    """The current quarter's report as the checklist's evidence links point into it; a view,
    not an issue (issuing closes a period: /v1/reports/{period} does that, audited)."""
    lang = _lang(lang)
    principal = _guard(db, comity_console, lang)
    if isinstance(principal, Response):
        return principal
    return HTMLResponse(render_html(_report(db, lang)),
                        headers={"Content-Security-Policy": REPORT_POLICY, **HEADERS})
