from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Auth = Callable[[str], dict[str, str]]


@pytest.mark.integration
def test_scan_returns_offsets(client: TestClient, auth: Auth) -> None:
    h = auth("service:crm")
    text = "收件人张伟，手机+86 138 1234 5678，邮箱zhang.wei@163.com"
    assert client.post("/v1/pii/scan", json={"items": [{"id": 1, "text": text}]}
                       ).status_code == 401
    r = client.post("/v1/pii/scan", json={"items": [{"id": "x1", "text": text}]}, headers=h)
    assert r.status_code == 200
    (res,) = r.json()["results"]
    got = {(e["type"], text[e["start"]:e["end"]]) for e in res["entities"]}
    assert got == {("PERSON", "张伟"), ("PHONE_NUMBER", "+86 138 1234 5678"),
                   ("EMAIL_ADDRESS", "zhang.wei@163.com")}


@pytest.mark.integration
def test_scan_rejects_bad_input_naming_the_field(client: TestClient, auth: Auth) -> None:
    h = auth("dpo")
    r = client.post("/v1/pii/scan", json={"items": [{"id": 1, "text": "x"}],
                                          "entities": ["DNA"]}, headers=h)
    assert r.status_code == 422 and "entities" in r.text and "DNA" not in r.text
    r = client.post("/v1/pii/scan", json={"items": []}, headers=h)
    assert r.status_code == 422 and "items" in r.text


@pytest.mark.integration
def test_scan_reports_every_number_of_a_list(client: TestClient, auth: Auth) -> None:
    """Three space-separated mobiles, one after an age: each is reported (issue 21)."""
    text = "客户年龄 35 13812345678 13987654321 １３７００００１１１１"
    r = client.post("/v1/pii/scan", json={"items": [{"id": "x", "text": text}]},
                    headers=auth("service:crm"))
    assert r.status_code == 200
    (res,) = r.json()["results"]
    assert [text[e["start"]:e["end"]] for e in res["entities"]] == text.split()[2:]
