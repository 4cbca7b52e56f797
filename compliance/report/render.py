"""Renders a built report to files. HTML through Jinja2 with autoescaping on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from compliance.report.charts import bars, burn_down
from compliance.report.consent_coverage import CONSENT_STATES
from compliance.report.fonts import missing_glyphs_said_once
from compliance.report.zh import basis_zh, law_zh, purpose_zh

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent),
                   autoescape=select_autoescape(["html", "j2"]))


def when(value: str | None, seconds: bool = False) -> str:
    """An ISO timestamp as a reader writes it: UTC, to the minute (or second), no
    microseconds; a bare date stays a date."""
    if not value:
        return "—"
    at = datetime.fromisoformat(value)
    if len(value) <= 10:
        return at.date().isoformat()
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _zh(ctx: Context) -> bool:
    return bool(ctx.get("r", {}).get("lang") == "zh")


@pass_context
def _law(ctx: Context, text: str) -> str:
    return law_zh(text) if _zh(ctx) else text


@pass_context
def _purpose(ctx: Context, record: dict[str, Any]) -> str:
    desc = str(record["description"])
    return purpose_zh(str(record["purpose"]), desc) if _zh(ctx) else desc


@pass_context
def _basis(ctx: Context, basis: str) -> str:
    return f"{basis_zh(basis)} ({basis})" if _zh(ctx) else basis


_ENV.filters.update(when=when, law=_law, purpose_text=_purpose, basis=_basis)


MAX_BURN_CHARTS = 6
DETAILED_RUNS = 10


SERIES_ZH = {"grant": "授予 grant", "withdraw": "撤回 withdraw", "refuse": "拒绝 refuse",
             "received": "收到 received", "on_time": "按时 on time", "late": "逾期办结 late",
             "overdue": "超期未办 overdue"}


def _series(rows: list[dict[str, Any]], keys: tuple[str, ...], zh: bool = False
            ) -> dict[str, list[float]]:
    return {SERIES_ZH.get(k, k) if zh else k: [float(row[k]) for row in rows] for k in keys}


def charts(report: dict[str, Any]) -> dict[str, Any]:
    """The report's charts as SVG markup (built by our own code, every label escaped)."""
    consent = report["consent_coverage"]["trend"]
    requests = report["requests"]["trend"]
    burns = sorted(report["aggregates"]["burn_down"], key=lambda b: -len(b["points"]))
    zh = report.get("lang") == "zh"
    return {
        "consent": Markup(bars([t["bucket"] for t in consent],
                               _series(consent, ("grant", "withdraw", "refuse"), zh),
                               "同意事件 consent events" if zh else "consent events")),
        "requests": Markup(bars([t["bucket"] for t in requests],
                                _series(requests, ("received", "on_time", "late", "overdue"),
                                        zh),
                                "个人权利请求 data-subject requests" if zh
                                else "data-subject requests")),
        "burn": [(f"{b['requester']} · {b['dataset']} · {b['period_key']}",
                  Markup(burn_down([p[1] for p in b["points"]], b["limit_epsilon"],
                                   "remaining privacy budget")))
                 for b in burns[:MAX_BURN_CHARTS]],
    }


def render_html(report: dict[str, Any]) -> str:
    return _ENV.get_template("template.html.j2").render(r=report, states=CONSENT_STATES,
                                                        charts=charts(report),
                                                        detailed=DETAILED_RUNS)


def render_pdf(report: dict[str, Any]) -> bytes:
    """The same HTML laid out by WeasyPrint; Chinese needs a CJK font installed (the CSS asks
    for Noto Sans CJK SC, then WenQuanYi Zen Hei, which `.ci/run` and the image install).
    Without one, one warning says so and names the package, instead of one per string."""
    from weasyprint import HTML

    with missing_glyphs_said_once():
        return bytes(HTML(string=render_html(report)).write_pdf())


FORMATS = ("json", "html", "pdf")


def render(report: dict[str, Any], fmt: str) -> bytes:
    """The report as the bytes of one file format."""
    if fmt == "pdf":
        return render_pdf(report)
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    raise ValueError(f"unknown report format '{fmt}' (json, html, pdf)")


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {fmt: out_dir / f"report.{fmt}" for fmt in FORMATS}
    for fmt, path in paths.items():
        path.write_bytes(render(report, fmt))
    return paths
