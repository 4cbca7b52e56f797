"""The PDF report keeps everything the HTML report has: every table cell's text is found in
the PDF's text, in English and Chinese (wide tables get landscape pages and wrap instead of
being cut at the right edge). Chinese text, timestamps, chart labels and the missing-font
warning are checked here too."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.database import Database
from compliance.report import fonts
from compliance.report.builder import build_period_report
from compliance.report.charts import _PAD_L, _W, bars, label_step
from compliance.report.period import parse_period
from compliance.report.render import render_html, render_pdf, when
from compliance.report.synthetic import Scale, generate
from compliance.report.zh import law_zh, purpose_zh

pdfium = pytest.importorskip("pypdfium2")
pytestmark = pytest.mark.xdist_group("report-pdf")
PERIOD = parse_period("2026-Q3")
SCALE = Scale(subjects=400, consent_events=1500, runs=4, decisions_per_brand=10,
              requests=30, late_requests=2, releases=20)


class _Cells(HTMLParser):
    """The text of every table cell, as a reader of the HTML sees it (charts left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._buf: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("td", "th"):
            self._buf = []
        elif tag in ("svg", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._buf is not None:
            if text := "".join(self._buf).strip():
                self.cells.append(text)
            self._buf = None
        elif tag in ("svg", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._buf is not None and not self._skip:
            self._buf.append(data)


def html_cells(html: str) -> list[str]:
    parser = _Cells()
    parser.feed(html)
    return parser.cells


def pdf_text(pdf: bytes) -> str:
    """The text a reader can see: only what lies inside each page's box (text laid out past
    the right edge is still in the file, but cut off the page)."""
    out = []
    for page in pdfium.PdfDocument(pdf):
        width, height = page.get_size()
        out.append(page.get_textpage().get_text_bounded(0, 0, width, height))
    return "".join(out)


def _squash(text: str) -> str:
    # PDFium marks a hyphen that ends a line with U+0002 (or U+FFFE); wrapping adds breaks.
    return re.sub(r"\s+", "", text).replace("\x02", "-").replace("\ufffe", "-")


def missing_cells(html: str, pdf: bytes) -> list[str]:
    """Table cells of the HTML report whose text a reader of the PDF cannot find."""
    text = _squash(pdf_text(pdf))
    return [c for c in html_cells(html) if _squash(c) not in text]


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    return [tuple(p.get_size()) for p in pdfium.PdfDocument(pdf)]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('pdf') / 'comity.db'}")
    generate(db, PERIOD, SCALE, seed=5)
    try:
        with db.reading() as s:
            return {lang: build_period_report(s, PERIOD, lang=lang) for lang in ("en", "zh")}
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def pdfs(reports: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    return {lang: render_pdf(report) for lang, report in reports.items()}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_html_table_value_is_in_the_pdf(reports: dict[str, Any], pdfs: dict[str, bytes],
                                              lang: str) -> None:
    report, pdf = reports[lang], pdfs[lang]
    html = render_html(report)
    assert len(html_cells(html)) > 300
    missing = missing_cells(html, pdf)
    assert not missing, missing[:20]
    text = pdf_text(pdf)
    assert text.count("ε") > len(report["training_runs"])  # the ε column is not cut
    sizes = page_sizes(pdf)
    assert any(w > h for w, h in sizes) and any(h > w for w, h in sizes)  # landscape for wide


@pytest.mark.integration
def test_chinese_report_translates_laws_purposes_and_formats_times(reports: dict[str, Any]
                                                                    ) -> None:
    html = render_html(reports["zh"])
    assert "《个人信息保护法》第54条" in html and "PIPL</strong>" not in html
    assert "跨品牌训练共享的流失预测与推荐模型" in html  # model_training's description
    assert "处理活动记录完整且防篡改" in html  # a checklist title
    runs = len(reports["zh"]["training_runs"])
    assert f"本期共 {runs} 次训练,最近 {runs} 次详列于下" in html  # whole sentences, not halves
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", html)  # no microseconds anywhere
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", html)  # no raw ISO timestamps
    en = render_html(reports["en"])
    assert "PIPL</strong> Art. 54" in en and "Training shared churn" in en


@pytest.mark.unit
def test_law_references_in_chinese() -> None:
    assert law_zh("PIPL Art. 6, Art. 13(1)") == "《个人信息保护法》第6条、第13条(1)"
    assert law_zh("PIPL Art. 38-39") == "《个人信息保护法》第38–39条"
    assert law_zh("GDPR Art. 5(2), 24, 30") == "GDPR 第5条(2)、第24条、第30条"
    assert law_zh("GDPR Recital 26") == "GDPR 序言第26条"
    assert (law_zh("CCPA Cal. Civ. Code 1798.140(m), 1798.145(a)(6)")
            == "CCPA 《加州民法典》第1798.140条(m)、第1798.145条(a)(6)")
    assert (law_zh("CCPA 11 CCR 7150 (risk assessment)")
            == "CCPA 《加州法规汇编》第11编第7150条(风险评估)")
    assert (law_zh("PIPL Art. 19 (shortest period necessary); E-Commerce Law Art. 31")
            == "《个人信息保护法》第19条(实现处理目的所必要的最短时间);《电子商务法》第31条")
    assert law_zh("no reference here") == "no reference here"
    assert purpose_zh("unknown_purpose", "English text") == "English text"


@pytest.mark.unit
def test_timestamps_are_written_for_readers() -> None:
    assert when("2026-07-01T08:30:12.123456+08:00") == "2026-07-01 00:30 UTC"
    assert when("2026-07-01T00:30:12.5+00:00", seconds=True) == "2026-07-01 00:30:12 UTC"
    assert when("2026-07-01") == "2026-07-01" and when(None) == "—"


@pytest.mark.unit
@given(st.integers(1, 60), st.integers(4, 12))
def test_chart_x_labels_never_overlap(n: int, width: int) -> None:
    labels = [f"{i:0{width}d}" for i in range(n)]
    svg = bars(labels, {"grant": [1.0] * n}, "consent")
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="\d+" font-size="9" '
                                       r'text-anchor="middle">', svg)]
    group_w = (_W - _PAD_L - 10) / n
    assert xs and len(xs) == len(range(0, n, label_step(labels, group_w)))
    need = width * 5.6 + 6.0
    assert all(b - a >= need - 1e-6 for a, b in zip(xs, xs[1:], strict=False))


@pytest.mark.integration
@pytest.mark.slow
def test_a_missing_cjk_font_is_said_once_with_the_fix(reports: dict[str, Any],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        pytest.skip("needs the DejaVu fonts to build a fontconfig without CJK")
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{dejavu}</dir>'
                    f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>")
    script = ("import json, sys; from compliance.report.render import render_pdf; "
              "render_pdf(json.load(open(sys.argv[1], encoding='utf-8')))")
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(reports["zh"], ensure_ascii=False), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "FONTCONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script, str(report_file)], env=env,
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ".notdef" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "fonts-noto-cjk" in line]
    assert len(lines) == 1, proc.stderr[-2000:]
    # with the machine's own fonts: nothing to say when a CJK font is installed
    if fonts.cjk_fonts():
        with caplog.at_level(logging.WARNING, logger="comity.report"):
            render_pdf(reports["zh"])
        assert not [r for r in caplog.records if "fonts-noto-cjk" in r.getMessage()]
