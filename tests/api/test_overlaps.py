"""POST /v1/overlaps: thin over the overlap service; refusals carry their rule id and are
audited, bad bodies are 422 and change nothing (the PSI itself: tests/privacy/overlap)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database

pytestmark = pytest.mark.integration


def test_a_brand_outside_the_agreement_is_refused_with_the_rule(
        client: TestClient, auth: Callable[..., dict[str, str]], db: Database) -> None:
    r = client.post("/v1/overlaps", headers=auth("dpo"),
                    json={"brands": ["brand-a", "brand-b"]})
    assert r.status_code == 403, r.text
    assert r.json()["rule_id"] == "alliance.art20.party"
    with db.reading() as s:
        kinds = [e.data.get("kind") for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "governance.refused"))]
    assert kinds == ["overlap"]


@pytest.mark.parametrize("body", [{"brands": ["brand-a", "brand-a"]}, {"brands": ["brand-a"]},
                                  {"brands": ["brand-a", "brand-b"], "epsilon": 0}])
def test_bad_bodies_are_422(client: TestClient, auth: Callable[..., dict[str, str]],
                            body: dict[str, object]) -> None:
    assert client.post("/v1/overlaps", headers=auth("dpo"), json=body).status_code == 422
