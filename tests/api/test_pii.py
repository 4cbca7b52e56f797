from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from compliance.database import Database


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db))


@pytest.mark.integration
def test_scan_returns_offsets(client: TestClient) -> None:
    text = "收件人张伟，手机+86 138 1234 5678，邮箱zhang.wei@163.com"
    r = client.post("/v1/pii/scan", json={"items": [{"id": "x1", "text": text}]})
    assert r.status_code == 200
    (res,) = r.json()["results"]
    got = {(e["type"], text[e["start"]:e["end"]]) for e in res["entities"]}
    assert got == {("PERSON", "张伟"), ("PHONE_NUMBER", "+86 138 1234 5678"),
                   ("EMAIL_ADDRESS", "zhang.wei@163.com")}


@pytest.mark.integration
def test_scan_rejects_bad_input_naming_the_field(client: TestClient) -> None:
    r = client.post("/v1/pii/scan", json={"items": [{"id": 1, "text": "x"}],
                                          "entities": ["DNA"]})
    assert r.status_code == 422 and "DNA" in r.text
    r = client.post("/v1/pii/scan", json={"items": []})
    assert r.status_code == 422 and "items" in r.text
