"""GET /v1/reports/{period}: JSON and bilingual HTML for the DPO only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from privacy.keys import audit_signing_key


@pytest.mark.integration
def test_period_report_over_the_api(client: TestClient, db: Database,
                                    auth: Callable[[str], dict[str, str]]) -> None:
    dpo = auth("dpo")
    r = client.get("/v1/reports/2026-Q4", headers=dpo)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"]["label"] == "2026-Q4" and body["audit"]["verified"] is True
    status = {i["key"]: i["status"] for i in body["checklist"]["items"]}
    assert status["audit.checkpoint_signed"] == "fail"  # nobody sealed the log yet
    assert status["requests.on_time"] == "not_applicable"  # no request in the period
    with db.unit_of_work() as s:
        AuditLog(s).checkpoint(audit_signing_key())
    issued = client.get("/v1/reports/2026-Q4", headers=dpo)
    body = issued.json()
    assert body["checklist"]["summary"]["fail"] == 0
    digest = hashlib.sha256(issued.content).hexdigest()
    assert issued.headers["x-report-sha256"] == digest
    with db.reading() as s:
        event = s.get(AuditEvent, int(issued.headers["x-audit-seq"]))
    assert event is not None and event.action == "report.issued"
    assert event.data["sha256"] == digest and event.data["period"] == "2026-Q4"
    html = client.get("/v1/reports/2026-Q4?format=html&lang=zh", headers=dpo)
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    assert 'lang="zh-CN"' in html.text and "数据保护负责人报告 / DPO report" in html.text
    assert "合规审计核查清单 / Compliance-audit checklist" in html.text
    assert client.get("/v1/reports/2099", headers=dpo).status_code == 422
    assert client.get("/v1/reports/2026-Q9", headers=dpo).status_code == 422
    assert client.get("/v1/reports/2026", headers=auth("admin")).status_code == 403


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF with its Flate streams inflated (font names sit in compressed objects)."""
    import re
    import zlib

    parts = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue
    return b"".join(parts)


def _has_cjk_font() -> bool:
    import subprocess

    try:
        out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True,
                             timeout=30).stdout
    except OSError:
        return False
    return bool(out.strip())


@pytest.mark.integration
def test_pdf_report_embeds_a_font_that_covers_chinese(
        client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    r = client.get("/v1/reports/2026?format=pdf&lang=zh", headers=auth("dpo"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and len(r.content) > 5000
    if not _has_cjk_font():
        pytest.skip("no CJK font on this machine (.ci/run installs fonts-wqy-zenhei)")
    names = _pdf_text(r.content)
    assert b"WenQuanYi" in names or b"NotoSansCJK" in names


@pytest.mark.integration
def test_malformed_periods_are_422_naming_the_period_and_record_nothing(
        client: TestClient, db: Database, auth: Callable[[str], dict[str, str]]) -> None:
    dpo = auth("dpo")
    with db.reading() as s:
        before = s.query(AuditEvent).count()
    for period in ("9999", "0000", "9999-Q4", "0000-01", "２０２６", "2026-Q0"):
        r = client.get(f"/v1/reports/{period}", headers=dpo)
        assert r.status_code == 422, (period, r.status_code, r.text)
        assert r.json()["detail"].startswith("period: "), r.text
    with db.reading() as s:
        assert s.query(AuditEvent).count() == before


@pytest.mark.integration
def test_reports_are_not_cached_or_sniffed(client: TestClient,
                                           auth: Callable[[str], dict[str, str]]) -> None:
    for fmt in ("json", "html"):
        r = client.get(f"/v1/reports/2026?format={fmt}", headers=auth("dpo"))
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
