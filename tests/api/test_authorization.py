"""Every endpoint with every role, and with a token of the other brand: who may do what is
exactly the table below, nobody gets a 5xx, and no endpoint is left out of the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from compliance.database import Database
from compliance.tokens.service import TokenService

pytestmark = pytest.mark.integration

ROLES = ("dpo", "admin", "brand:brand-a", "brand:brand-b", "service:growth", None)
SUBJECT = "subject000001"
ALL = {"dpo", "admin", "brand", "service"}


def _endpoints(req_id: str) -> list[tuple[str, str, str, dict[str, Any] | None, set[str], bool]]:
    """(method, route path, url, json body, role kinds allowed, scoped to brand-a)."""
    consent = {"brand_id": "brand-a", "subject": SUBJECT, "purpose": "model_training",
               "action": "grant", "notice_version": "v1"}
    return [
        ("POST", "/v1/consents", "/v1/consents", consent, {"brand", "admin"}, True),
        ("GET", "/v1/consents", "/v1/consents?brand_id=brand-a", None,
         {"brand", "dpo", "admin"}, True),
        ("POST", "/v1/consents/batch", "/v1/consents/batch",
         {"events": [{**consent, "idempotency_key": "import:auth0001"}]}, {"brand", "admin"},
         True),
        ("GET", "/v1/brands", "/v1/brands", None, {"dpo", "admin"}, False),
        ("POST", "/v1/brands", "/v1/brands",
         {"id": "new-brand", "name": "New", "jurisdiction": "pipl"}, {"admin"}, False),
        ("GET", "/v1/brands/{brand_id}/subjects", "/v1/brands/brand-a/subjects", None,
         {"brand", "dpo", "admin"}, True),
        ("GET", "/v1/models", "/v1/models", None, {"dpo", "admin"}, False),
        ("GET", "/v1/models/{model}/latest", "/v1/models/churn/latest", None,
         {"brand", "dpo", "admin"}, False),
        ("POST", "/v1/models/{model}/versions/{version}/servings",
         "/v1/models/churn/versions/1/servings",
         {"requested": 1, "personalized": 0, "not_personalized": 1}, {"brand"}, False),
        ("GET", "/v1/consents/state", f"/v1/consents/state?brand_id=brand-a&subject={SUBJECT}",
         None, {"brand", "dpo", "admin"}, True),
        ("POST", "/v1/requests", "/v1/requests",
         {"brand_id": "brand-a", "subject": SUBJECT, "type": "access"},
         {"brand", "dpo", "admin"}, True),
        ("GET", "/v1/requests", "/v1/requests?brand_id=brand-a", None,
         {"brand", "dpo", "admin"}, True),
        ("PATCH", "/v1/requests/{request_id}", f"/v1/requests/{req_id}",
         {"assignee": "dpo-1"}, {"dpo", "admin"}, False),
        ("POST", "/v1/requests/{request_id}/approve", f"/v1/requests/{req_id}/approve", None,
         {"dpo", "admin"}, False),
        ("POST", "/v1/requests/{request_id}/execute", f"/v1/requests/{req_id}/execute", None,
         {"brand", "dpo", "admin"}, True),
        ("GET", "/v1/audit/verify", "/v1/audit/verify", None, {"dpo", "admin"}, False),
        ("GET", "/v1/audit/proof/{seq}", "/v1/audit/proof/1", None, {"dpo", "admin"}, False),
        ("GET", "/v1/audit/checkpoints/latest", "/v1/audit/checkpoints/latest", None,
         {"brand", "dpo", "admin"}, False),
        ("GET", "/v1/audit/consistency", "/v1/audit/consistency?from=1&to=2", None,
         {"brand", "dpo", "admin"}, False),
        ("POST", "/v1/audit/witness", "/v1/audit/witness",
         {"tree_size": 1, "tree_root": "0" * 64}, {"brand"}, False),
        ("POST", "/v1/retention/sweep", "/v1/retention/sweep", None, {"dpo", "admin"}, False),
        ("POST", "/v1/pii/scan", "/v1/pii/scan",
         {"items": [{"id": "1", "text": "call 13812345678"}]}, ALL, False),
        ("POST", "/v1/aggregates", "/v1/aggregates",
         {"dataset": "none", "measure": "count", "epsilon": 0.1}, {"service", "dpo"}, False),
        ("GET", "/v1/budgets", "/v1/budgets", None, {"service", "dpo", "admin"}, False),
        ("POST", "/v1/overlaps", "/v1/overlaps", {"brands": ["nobrand-a", "nobrand-b"]},
         {"service", "dpo"}, False),
        ("GET", "/v1/reports/{period}", "/v1/reports/2026", None, {"dpo"}, False),
        ("GET", "/v1/audit/trace", "/v1/audit/trace?subject=x", None, {"dpo", "admin"},
         False),
        # brand operators (brand:<id>:staff / :supervisor) only: tests/api/test_masked_lookups
        ("GET", "/v1/brands/{brand_id}/customers/{subject}",
         f"/v1/brands/brand-a/customers/{SUBJECT}", None, set(), False),
        ("POST", "/v1/brands/{brand_id}/customers/{subject}/reveals",
         f"/v1/brands/brand-a/customers/{SUBJECT}/reveals",
         {"field": "phone", "reason": "courier failed twice"}, set(), False),
        ("POST", "/v1/reveals/{reveal_id}/confirm", "/v1/reveals/1/confirm", None, {"dpo"},
         False),
        ("POST", "/v1/reveals/{reveal_id}/open", "/v1/reveals/1/open", None, set(), False),
        ("POST", "/v1/experiments", "/v1/experiments",
         {"key": "e1", "dataset": "none", "assignment_col": "arm", "arms": ["a", "b"],
          "control_arm": "a", "conversion_col": "c", "starts_at": "2026-01-01T00:00:00Z",
          "ends_at": "2026-02-01T00:00:00Z"}, {"service"}, False),
        ("POST", "/v1/experiments/{key}/readout", "/v1/experiments/e1/readout",
         {"epsilon": 0.3}, {"service"}, False),
        # without the Sec-GPC header an allowed caller gets 422, never 401/403
        ("POST", "/v1/consents/gpc", "/v1/consents/gpc",
         {"brand_id": "brand-a", "subject": SUBJECT}, {"brand", "admin"}, True),
        ("GET", "/v1/governance/agreement", "/v1/governance/agreement", None,
         {"brand", "dpo", "admin"}, False),
        ("POST", "/v1/governance/assessments", "/v1/governance/assessments",
         {"purpose": "model_training"}, {"dpo", "admin"}, False),
        ("POST", "/v1/governance/assessments/{assessment_id}/approve",
         "/v1/governance/assessments/none/approve", None, {"dpo"}, False),
        ("GET", "/v1/governance/assessments", "/v1/governance/assessments", None,
         {"dpo", "admin"}, False),
        ("POST", "/v1/governance/transfers/mechanisms", "/v1/governance/transfers/mechanisms",
         {"handler": "lumen-tea", "kind": "standard_contract", "reference": "SCC-1",
          "valid_until": "2030-01-01"}, {"dpo"}, False),
        ("POST", "/v1/governance/transfers", "/v1/governance/transfers",
         {"handler": "lumen-tea", "recipient": "HQ", "country": "SG", "individuals": 10},
         {"dpo", "admin"}, False),
        ("POST", "/v1/governance/incidents", "/v1/governance/incidents",
         {"summary": "lost laptop"}, {"dpo", "admin"}, False),
        ("GET", "/v1/governance/incidents", "/v1/governance/incidents", None,
         {"dpo", "admin"}, False),
        ("GET", "/v1/governance/incidents/{incident_id}/notice",
         "/v1/governance/incidents/none/notice", None, {"dpo", "admin"}, False),
        ("GET", "/healthz", "/healthz", None, ALL, False),
    ]


@pytest.fixture
def tokens(db: Database) -> dict[str | None, dict[str, str]]:
    out: dict[str | None, dict[str, str]] = {None: {}}
    with db.unit_of_work() as s:
        for role in ROLES:
            if role:
                token = TokenService(s).create(role, principal=role.replace(":", "-"))
                out[role] = {"Authorization": f"Bearer {token}"}
    return out


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    listed = {(m, p) for m, p, *_ in _endpoints("x")}
    assert routes == listed


def test_roles_by_endpoint(client: TestClient, tokens: dict[str | None, dict[str, str]],
                           auth: Callable[[str], dict[str, str]]) -> None:
    seen = client.post("/v1/consents", headers=tokens["admin"], json={
        "brand_id": "brand-a", "subject": SUBJECT, "purpose": "marketing", "action": "grant",
        "notice_version": "v1"})
    assert seen.status_code == 201, seen.text
    made = client.post("/v1/requests", headers=tokens["dpo"],
                       json={"brand_id": "brand-a", "subject": SUBJECT, "type": "access"})
    assert made.status_code == 201, made.text
    checked = 0
    for method, path, url, body, allowed, scoped in _endpoints(made.json()["id"]):
        for role in ROLES:
            r = client.request(method, url, json=body, headers=tokens[role])
            checked += 1
            where = f"{method} {url} as {role}: {r.status_code} {r.text[:200]}"
            assert r.status_code < 500, where
            kind = role.split(":")[0] if role else None
            if path == "/healthz":
                assert r.status_code == 200, where
            elif role is None:
                assert r.status_code == 401, where
            elif kind in allowed and scoped and role == "brand:brand-b" and "{request_id}" in path:
                assert r.status_code == 404, where  # another brand's object looks missing
            elif kind not in allowed or (scoped and role == "brand:brand-b"):
                assert r.status_code == 403, where
            else:
                assert r.status_code not in (401, 403), where
    assert checked == len(_endpoints("x")) * len(ROLES)
