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


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "html": out_dir / "report.html"}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    return paths
