"""Renders a built report to files. HTML through Jinja2 with autoescaping on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from compliance.policy.schemas import ConsentState

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent),
                   autoescape=select_autoescape(["html", "j2"]))


def render_html(report: dict[str, Any]) -> str:
    states = [s.value for s in ConsentState if s is not ConsentState.NONE]
    return _ENV.get_template("template.html.j2").render(r=report, states=states)


def render_pdf(report: dict[str, Any]) -> bytes:
    """The same HTML laid out by WeasyPrint; Chinese needs a CJK font installed (the CSS asks
    for Noto Sans CJK SC, then WenQuanYi Zen Hei, which `.ci/run` and the image install)."""
    from weasyprint import HTML

    return bytes(HTML(string=render_html(report)).write_pdf())


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "html": out_dir / "report.html",
             "pdf": out_dir / "report.pdf"}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["pdf"].write_bytes(render_pdf(report))
    return paths
