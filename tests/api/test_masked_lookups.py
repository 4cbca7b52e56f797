"""Tiered operator authorisation: staff see masked values, a supervisor sees one field in
clear only after a second person confirmed it; nothing raw reaches the audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.subjects.models import Subject
from privacy.vault.service import Vault

Auth = Callable[..., dict[str, str]]
PHONE, RID, CARD = "13812345678", "11010119900307123X", "6222021234567890123"
PSEUDONYM = "a1b2c3d4e5f6"


@pytest.fixture
def customer(client: TestClient, db: Database) -> str:
    with db.unit_of_work() as s:
        subj = Subject(brand_id="brand-a", subject_key=PSEUDONYM)
        s.add(subj)
        s.flush()
        Vault(s).put(subj.id, {"phone": PHONE, "resident_id": RID, "bank_card": CARD,
                               "loyalty_note": "VIP since 2019"})
    return PSEUDONYM


def _audit_text(db: Database) -> str:
    with db.reading() as s:
        return " ".join(str(d) for d in s.scalars(select(AuditEvent.data)))


def test_staff_see_sensitive_fields_masked_and_unknown_fields_not_at_all(
        client: TestClient, auth: Auth, customer: str, db: Database) -> None:
    r = client.get(f"/v1/brands/brand-a/customers/{customer}",
                   headers=auth("brand:brand-a:staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    shown = {f["field"]: f["value"] for f in body["fields"]}
    assert shown == {"phone": "138****5678", "resident_id": "110101********123X",
                     "bank_card": "*" * 15 + "0123"}
    assert body["hidden"] == ["loyalty_note"]
    assert not any(f["revealable"] for f in body["fields"])
    text = _audit_text(db) + r.text
    for raw in (PHONE, RID, CARD, "VIP since"):
        assert raw not in text


@pytest.mark.parametrize("role", ["brand:brand-b:staff", "brand:brand-a", "service:crm",
                                  "dpo"])
def test_other_roles_may_not_look_up(client: TestClient, auth: Auth, customer: str,
                                     role: str) -> None:
    r = client.get(f"/v1/brands/brand-a/customers/{customer}", headers=auth(role))
    assert r.status_code == 403


def test_unknown_customer_is_404_without_the_pseudonym(client: TestClient, auth: Auth,
                                                       customer: str) -> None:
    r = client.get("/v1/brands/brand-a/customers/zz9988776655",
                   headers=auth("brand:brand-a:staff"))
    assert r.status_code == 404 and "zz9988776655" not in r.text


def test_supervisor_reveal_needs_a_reason_and_a_second_person(
        client: TestClient, auth: Auth, customer: str, db: Database) -> None:
    sup = auth("brand:brand-a:supervisor", principal="sup-li")
    same_person = auth("brand:brand-a:supervisor", principal="sup-li")
    other = auth("brand:brand-a:supervisor", principal="sup-wang")
    url = f"/v1/brands/brand-a/customers/{customer}/reveals"
    assert client.post(url, json={"field": "phone", "reason": "x"}, headers=sup
                       ).status_code == 422
    assert client.post(url, json={"field": "phone", "reason": "courier failed twice"},
                       headers=auth("brand:brand-a:staff")).status_code == 403
    r = client.post(url, json={"field": "phone", "reason": "courier failed twice"}, headers=sup)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    rid = r.json()["id"]
    assert client.post(f"/v1/reveals/{rid}/open", headers=sup).status_code == 409
    assert client.post(f"/v1/reveals/{rid}/confirm", headers=same_person).status_code == 403
    assert client.post(f"/v1/reveals/{rid}/confirm",
                       headers=auth("brand:brand-b:supervisor")).status_code == 403
    r = client.post(f"/v1/reveals/{rid}/confirm", headers=other)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert client.post(f"/v1/reveals/{rid}/open", headers=other).status_code == 403
    r = client.post(f"/v1/reveals/{rid}/open", headers=sup)
    assert r.status_code == 200 and r.json() == {"id": rid, "field": "phone", "value": PHONE}
    assert client.post(f"/v1/reveals/{rid}/open", headers=sup).status_code == 409
    with db.reading() as s:
        actions = [a for a in s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))
                   if a.startswith("pii.")]
    assert actions == ["pii.reveal_requested", "pii.reveal_confirmed", "pii.revealed"]
    assert PHONE not in _audit_text(db)


def test_an_operator_token_is_no_brand_node(client: TestClient, auth: Auth) -> None:
    """brand:<id>:staff is a person at the brand, not the brand's node: brand-node
    endpoints refuse it."""
    for role in ("brand:brand-a:staff", "brand:brand-a:supervisor"):
        assert client.get("/v1/audit/checkpoints/latest", headers=auth(role)).status_code == 403
