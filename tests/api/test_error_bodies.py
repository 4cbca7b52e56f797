"""Error bodies name the field and the problem, never the value (issue 19): whatever a client
puts where it does not belong (a phone, a resident ID, an e-mail, a 3.9 MB text), the 4xx
answer does not carry it back, from request validation and from the services alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.database import Database
from compliance.policy.loader import load_policies
from privacy.aggregates.service import AggregateService
from privacy.check_digits import resident_id_check_digit
from tests.privacy.aggregates.conftest import CITIES, customers_frame

Auth = Callable[[str], dict[str, str]]
CONSENT = {"brand_id": "brand-a", "subject": "subj-0001", "purpose": "marketing",
           "action": "grant", "notice_version": "v1"}
QUERY = {"dataset": "customers", "measure": "count", "epsilon": 0.1}

phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
resident_ids = st.from_regex(r"[1-6][0-9]{5}(19[5-9][0-9]|200[0-9])(0[1-9]|1[0-2])"
                             r"(0[1-9]|1[0-9]|2[0-8])[0-9]{3}", fullmatch=True).map(
    lambda first17: first17 + resident_id_check_digit(first17))
emails = st.from_regex(r"[a-z]{3,10}\.[a-z]{2,8}@[a-z]{3,8}\.(com|cn)", fullmatch=True)
names_with_phones = st.builds(lambda n, p: f"{n}{p}", st.from_regex(r"[\u4e00-\u9fa5]{2,3}",
                                                                    fullmatch=True), phones)
free_text = st.text(st.characters(categories=("L", "N")), min_size=12, max_size=60)
ascii_pii = st.one_of(phones, resident_ids, emails)
any_pii = st.one_of(phones, resident_ids, emails, names_with_phones, free_text)


@pytest.fixture
def dataset(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    customers_frame(200).write_parquet(path)
    AggregateService(db, load_policies()).register(
        "customers", path, "cid", actor="test", bounds={"spend": (0.0, 1000.0)},
        categories={"city": CITIES}, data_categories={"city": "city"})


def _requests(v: str, h: dict[str, dict[str, str]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every way of putting `v` where the API refuses it: body fields, unknown fields, query,
    path, header and a broken JSON document, across the routers."""
    p = quote(v, safe="")
    admin, dpo, brand, service = h["admin"], h["dpo"], h["brand"], h["service"]
    return [
        ("POST", "/v1/consents", {"json": {**CONSENT, "action": v}, "headers": admin}),
        ("POST", "/v1/consents", {"json": {**CONSENT, "purpose": v}, "headers": admin}),
        ("POST", "/v1/consents", {"json": {**CONSENT, v: 1}, "headers": admin}),
        ("POST", "/v1/consents", {"json": {**CONSENT, "notice_version": v * 4},
                                  "headers": admin}),
        ("POST", "/v1/consents", {"json": {**CONSENT, "occurred_at": f"{v}Z"},
                                  "headers": admin}),
        ("POST", "/v1/consents", {"content": json.dumps({**CONSENT, "subject": v})[:-2],
                                  "headers": {**admin, "content-type": "application/json"}}),
        ("POST", "/v1/consents/batch", {"json": {"events": [{**CONSENT, "channel": v * 4,
                                                             "idempotency_key": "k" * 8}]},
                                        "headers": admin}),
        ("POST", "/v1/requests", {"json": {"brand_id": "brand-a", "subject": "subj-0001",
                                           "type": v}, "headers": brand}),
        ("GET", "/v1/consents", {"params": {"after_id": f"{v}x"}, "headers": dpo}),
        ("GET", "/v1/consents/state", {"params": {"brand_id": v, "subject": "subj-0001"},
                                       "headers": brand}),
        ("GET", f"/v1/brands/{p}/subjects", {"headers": brand}),
        ("GET", f"/v1/brands/{p}/subjects", {"headers": dpo}),
        ("POST", f"/v1/requests/{p}/execute", {"headers": brand}),
        ("POST", f"/v1/requests/{p}/approve", {"headers": dpo}),
        ("PATCH", f"/v1/requests/{p}", {"json": {"status": "in_progress"}, "headers": dpo}),
        ("GET", f"/v1/audit/proof/{p}x", {"headers": dpo}),
        ("POST", f"/v1/models/churn/versions/{p}/servings", {"json": {}, "headers": brand}),
        ("POST", "/v1/brands", {"json": {"id": "new-brand", "name": "N", "jurisdiction": v},
                                "headers": admin}),
        ("POST", "/v1/pii/scan", {"json": {"items": [{"id": 1, "text": "x"}], "entities": [v]},
                                  "headers": dpo}),
        ("POST", "/v1/pii/scan", {"json": {"items": [{"id": 1, "text": "x", v: 2}]},
                                  "headers": dpo}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "dataset": v}, "headers": service}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "purpose": v}, "headers": service}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "group_by": [v]}, "headers": service}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "measure": "sum", "column": v},
                                    "headers": service}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "filters": [
            {"column": "spend", "op": "eq", "value": v}]}, "headers": service}),
        ("POST", "/v1/aggregates", {"json": {**QUERY, "filters": [
            {"column": "city", "op": "in", "value": [v, {"k": v}]}]}, "headers": service}),
    ]


def _assert_not_echoed(client: TestClient, v: str, method: str, path: str,
                       kwargs: dict[str, Any]) -> None:
    r = client.request(method, path, **kwargs)
    where = f"{method} {path.replace(quote(v, safe=''), '<v>')}"
    assert r.status_code >= 400, (where, r.status_code)
    for form in (v, json.dumps(v)[1:-1], quote(v, safe="")):
        assert form not in r.text, (where, r.status_code, r.text[:300])


@pytest.fixture
def tokens(client: TestClient, auth: Auth, dataset: None) -> dict[str, dict[str, str]]:
    return {"admin": auth("admin"), "dpo": auth("dpo"), "brand": auth("brand:brand-a"),
            "service": auth("service:growth")}


@pytest.mark.integration
@pytest.mark.slow
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=any_pii)
def test_no_error_body_contains_the_submitted_value(
        client: TestClient, tokens: dict[str, dict[str, str]], v: str) -> None:
    for method, path, kwargs in _requests(v, tokens):
        _assert_not_echoed(client, v, method, path, kwargs)


@pytest.mark.integration
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=ascii_pii)
def test_no_error_body_contains_a_header_value(
        client: TestClient, tokens: dict[str, dict[str, str]], v: str) -> None:
    _assert_not_echoed(client, v, "POST", "/v1/consents", {
        "json": CONSENT, "headers": {**tokens["admin"], "Idempotency-Key": v * 12}})
    _assert_not_echoed(client, v, "GET", "/v1/consents", {
        "headers": {**tokens["dpo"], "Authorization": f"Bearer {v}"}})


@pytest.mark.integration
def test_validation_errors_name_the_field_and_the_problem(
        client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = client.post("/v1/consents", json={**CONSENT, "action": "13812345678"},
                    headers=tokens["admin"])
    assert r.status_code == 422
    assert r.json() == {"detail": [{"loc": ["body", "action"], "type": "literal_error",
                                    "msg": "Input should be 'grant', 'withdraw' or 'refuse'"}]}


@pytest.mark.integration
def test_a_large_text_is_not_returned(client: TestClient,
                                      tokens: dict[str, dict[str, str]]) -> None:
    text = "张伟 13812345678 " * 215_000  # about 3.9 MB of UTF-8, under the body limit
    for path, body, h in (
            ("/v1/pii/scan", {"items": [{"id": 1, "text": text}]}, tokens["dpo"]),
            ("/v1/consents", {**CONSENT, "notice_version": text}, tokens["admin"])):
        r = client.post(path, content=json.dumps(body, ensure_ascii=False).encode(),
                        headers={**h, "content-type": "application/json"})
        assert r.status_code == 422, r.text[:200]
        assert len(r.content) < 2000 and "13812345678" not in r.text
        assert "string_too_long" in r.text
