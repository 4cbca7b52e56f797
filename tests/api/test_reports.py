"""GET /v1/reports/{period}: JSON and bilingual HTML for the DPO only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


@pytest.mark.integration
def test_period_report_over_the_api(client: TestClient,
                                    auth: Callable[[str], dict[str, str]]) -> None:
    dpo = auth("dpo")
    r = client.get("/v1/reports/2026-Q4", headers=dpo)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"]["label"] == "2026-Q4" and body["audit"]["verified"] is True
    html = client.get("/v1/reports/2026-Q4?format=html&lang=zh", headers=dpo)
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    assert 'lang="zh-CN"' in html.text and "数据保护负责人报告 / DPO report" in html.text
    assert client.get("/v1/reports/2099", headers=dpo).status_code == 422
    assert client.get("/v1/reports/2026-Q9", headers=dpo).status_code == 422
    assert client.get("/v1/reports/2026", headers=auth("admin")).status_code == 403
