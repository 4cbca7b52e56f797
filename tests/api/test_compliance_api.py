"""Consent, requests, audit and retention through the real FastAPI app and database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from compliance.audit.chain import verify_proof
from compliance.consent.models import ConsentEvent
from compliance.database import Database, utcnow
from compliance.subjects.models import Subject
from privacy.keys import audit_signing_key
from privacy.vault.models import SubjectKey, SubjectPii
from privacy.vault.service import Vault

Auth = Callable[[str], dict[str, str]]
SUBJ = "a1b2c3d4e5f6a7b8"
pytestmark = pytest.mark.integration


def consent(**kw: object) -> dict[str, object]:
    return {"brand_id": "brand-a", "subject": SUBJ, "purpose": "model_training",
            "action": "grant", "notice_version": "2026-01", **kw}


def test_consent_grant_withdraw_and_state(client: TestClient, auth: Auth) -> None:
    h = auth("brand:brand-a")
    assert client.post("/v1/consents", json=consent(), headers=h).status_code == 201
    r = client.post("/v1/consents", json=consent(action="withdraw"), headers=h)
    assert r.status_code == 201 and r.json()["actor"].startswith("brand:brand-a#")
    state = client.get("/v1/consents/state", params={"brand_id": "brand-a", "subject": SUBJ},
                       headers=h).json()
    assert state["states"] == {"model_training": "withdrawn"}
    events = client.get("/v1/consents", params={"subject": SUBJ}, headers=auth("dpo")).json()
    assert [e["action"] for e in events] == ["grant", "withdraw"]


def test_idempotency_key_never_duplicates(client: TestClient, auth: Auth, db: Database) -> None:
    h = {**auth("brand:brand-a"), "Idempotency-Key": "retry-1"}
    first = client.post("/v1/consents", json=consent(), headers=h)
    again = client.post("/v1/consents", json=consent(), headers=h)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    clash = client.post("/v1/consents", json=consent(action="refuse"), headers=h)
    assert clash.status_code == 409
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_separate_consent_and_minor_rules(client: TestClient, auth: Auth) -> None:
    h = auth("brand:brand-a")
    r = client.post("/v1/consents", json=consent(purpose="cross_brand_sharing"), headers=h)
    assert r.status_code == 422 and "separate consent" in r.json()["detail"]
    r = client.post("/v1/consents", json=consent(purpose="cross_brand_sharing", separate=True),
                    headers=h)
    assert r.status_code == 201
    minor = {"subject": "minor000minor000", "is_minor": True}
    r = client.post("/v1/consents", json=consent(**minor), headers=h)
    assert r.status_code == 422 and "guardian" in r.json()["detail"]
    assert client.post("/v1/consents", json=consent(**minor, by_guardian=True),
                       headers=h).status_code == 201


def test_brand_tokens_are_fenced_to_their_brand(client: TestClient, auth: Auth) -> None:
    a, b = auth("brand:brand-a"), auth("brand:brand-b")
    client.post("/v1/consents", json=consent(), headers=a)
    assert client.post("/v1/consents", json=consent(), headers=b).status_code == 403
    assert client.get("/v1/consents", params={"brand_id": "brand-a"},
                      headers=b).status_code == 403
    assert client.get("/v1/consents", headers=b).json() == []
    assert client.get("/v1/audit/verify", headers=a).status_code == 403
    assert client.post("/v1/consents", json=consent(), headers={
        "Authorization": "Bearer cmt_forged"}).status_code == 401


def test_deletion_needs_two_people_and_shreds_the_key(client: TestClient, auth: Auth,
                                                      db: Database) -> None:
    brand, dpo, dpo2 = auth("brand:brand-a"), auth("dpo"), auth("dpo")
    client.post("/v1/consents", json=consent(), headers=brand)
    with db.unit_of_work() as s:
        sid = s.scalar(select(Subject.id).where(Subject.subject_key == SUBJ))
        assert sid is not None
        Vault(s).put(sid, {"phone": "13812345678", "delivery_address": "北京市东城区1号"})
    r = client.post("/v1/requests", json={"brand_id": "brand-a", "subject": SUBJ,
                                          "type": "access"}, headers=brand)
    assert r.status_code == 201
    req = r.json()
    assert req["jurisdiction"] == "pipl" and "PIPL" in req["deadline_source"]
    assert client.post(f"/v1/requests/{req['id']}/execute", headers=dpo).status_code == 409
    client.post(f"/v1/requests/{req['id']}/approve", headers=dpo)
    assert client.post(f"/v1/requests/{req['id']}/execute", headers=dpo).status_code == 409
    done = client.post(f"/v1/requests/{req['id']}/execute", headers=dpo2).json()
    assert done["export"]["personal_data"]["phone"] == "13812345678"
    assert "13812345678" not in str(done["request"]["result"])  # exports are not stored

    d = client.post("/v1/requests", json={"brand_id": "brand-a", "subject": SUBJ,
                                          "type": "deletion"}, headers=brand).json()
    client.post(f"/v1/requests/{d['id']}/approve", headers=dpo)
    out = client.post(f"/v1/requests/{d['id']}/execute", headers=dpo2).json()
    assert out["request"]["status"] == "completed" and out["request"]["result"]["erased"]
    with db.unit_of_work() as s:
        assert s.get(SubjectKey, sid) is None
        assert s.scalar(select(func.count()).select_from(SubjectPii)) == 0
    state = client.get("/v1/consents/state", params={"brand_id": "brand-a", "subject": SUBJ},
                       headers=brand).json()
    assert state["states"]["model_training"] == "withdrawn"


def test_overdue_requests_are_listed(client: TestClient, auth: Auth, db: Database) -> None:
    brand = auth("brand:brand-a")
    client.post("/v1/consents", json=consent(), headers=brand)
    r = client.post("/v1/requests", json={"brand_id": "brand-a", "subject": SUBJ,
                                          "type": "refuse_personalization"}, headers=brand)
    rid = r.json()["id"]
    from compliance.requests.models import SubjectRequest

    with db.unit_of_work() as s:
        s.execute(update(SubjectRequest).values(due_at=utcnow() - timedelta(days=1)))
    over = client.get("/v1/requests", params={"overdue": True}, headers=auth("dpo")).json()
    assert [x["id"] for x in over] == [rid] and over[0]["overdue"] is True


def test_audit_verify_checkpoint_and_proof(client: TestClient, auth: Auth, db: Database) -> None:
    brand, dpo = auth("brand:brand-a"), auth("dpo")
    for action in ("grant", "withdraw", "grant"):
        client.post("/v1/consents", json=consent(action=action), headers=brand)
    from compliance.audit.service import AuditLog

    with db.unit_of_work() as s:
        cp = AuditLog(s).checkpoint(audit_signing_key())
        assert cp is not None
    assert client.get("/v1/audit/verify", headers=dpo).json()["verified"] is True
    proof = client.get(f"/v1/audit/proof/{cp.last_seq - 1}", headers=dpo).json()
    assert verify_proof(proof)
    proof["event"]["data"]["purpose"] = "marketing"
    assert not verify_proof(proof)


def test_retention_sweep_is_idempotent(client: TestClient, auth: Auth, db: Database) -> None:
    brand, dpo = auth("brand:brand-a"), auth("dpo")
    for i in range(5):
        client.post("/v1/consents", json=consent(subject=f"old{i:05d}subject"), headers=brand)
    with db.unit_of_work() as s:
        s.execute(update(Subject).where(Subject.subject_key.like("old%")).values(
            last_activity_at=utcnow() - timedelta(days=4000)))
        for sid in s.scalars(select(Subject.id)):
            Vault(s).put(sid, {"delivery_address": "x"})
    first = client.post("/v1/retention/sweep", headers=dpo).json()
    assert first["actions"]["retention.inactive_customer"] == 5
    assert first["still_overdue"] == {"retention.inactive_customer": 0,
                                      "retention.delivery_address": 0}
    again = client.post("/v1/retention/sweep", headers=dpo).json()
    assert again["total"] == 0
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(SubjectKey)) == 0
