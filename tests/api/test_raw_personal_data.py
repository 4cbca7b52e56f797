"""Raw personal data never reaches a record that cannot be erased (issue 19): a subject key
that reads as a phone, ID or card number is refused wherever a key enters, and a request's
payload (a correction's new phone number) is kept only sealed under the subject's data key,
so an executed deletion leaves it unrecoverable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.requests.models import SubjectRequest
from compliance.requests.service import RequestService
from compliance.subjects.models import Subject
from privacy.vault.service import ErasedError, Vault

Auth = Callable[..., dict[str, str]]
SUBJ = "3f9a0c2be41d7a55c0e8b6f1d2a4c9e7"  # a pseudonym's shape
pytestmark = pytest.mark.integration


def consent(subject: str = SUBJ, **kw: object) -> dict[str, object]:
    return {"brand_id": "brand-a", "subject": subject, "purpose": "model_training",
            "action": "grant", "notice_version": "2026-01", **kw}


def _rows(db: Database, *tables: str) -> str:
    """Every row of the tables, as text: what an operator, a backup or a DPO would read."""
    with db.reading() as s:
        return "\n".join(repr(tuple(r)) for t in tables
                         for r in s.execute(text(f"SELECT * FROM {t}")))  # noqa: S608


@pytest.mark.parametrize("raw", ["13812345678", "11010519491231002X", "138-1234-5678",
                                 "cust_13812345678", "6222021234567890128"])
def test_a_raw_identifier_as_subject_key_is_refused_everywhere(
        client: TestClient, auth: Auth, db: Database, raw: str) -> None:
    brand, dpo = auth("brand:brand-a"), auth("dpo")
    answers = [
        client.post("/v1/consents", json=consent(raw), headers=brand),
        client.post("/v1/consents/batch", headers=brand, json={"events": [
            {**consent(), "idempotency_key": "import-0001"},
            {**consent(raw), "idempotency_key": "import-0002"}]}),
        client.post("/v1/requests", headers=brand,
                    json={"brand_id": "brand-a", "subject": raw, "type": "access"}),
        client.get("/v1/consents/state", params={"brand_id": "brand-a", "subject": raw},
                   headers=dpo),
    ]
    for r in answers:
        assert r.status_code == 422, r.text
        assert "subject" in r.json()["detail"] and raw not in r.text
    written = _rows(db, "subjects", "audit_events", "consent_events")
    assert raw not in written and SUBJ not in written  # the batch wrote nothing at all
    assert client.post("/v1/consents", json=consent(), headers=brand).status_code == 201


def test_a_correction_payload_is_sealed_and_erased_with_the_subject(
        client: TestClient, auth: Auth, db: Database, tmp_path: Path) -> None:
    brand, dpo = auth("brand:brand-a"), auth("dpo")
    new_phone, pending_phone = "13900001111", "13700002222"
    assert client.post("/v1/consents", json=consent(), headers=brand).status_code == 201

    def open_request(kind: str, details: dict[str, object] | None = None) -> str:
        r = client.post("/v1/requests", headers=brand, json={
            "brand_id": "brand-a", "subject": SUBJ, "type": kind, "details": details or {}})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    corrected = open_request("correction", {"fields": {"phone": new_phone}})
    assert new_phone not in _rows(db, "subject_requests")
    done = client.post(f"/v1/requests/{corrected}/execute", headers=dpo)
    assert done.status_code == 200 and done.json()["request"]["status"] == "completed"
    with db.unit_of_work() as s:
        sid = s.scalar(select(Subject.id).where(Subject.subject_key == SUBJ))
        assert sid is not None and Vault(s).get(sid) == {"phone": new_phone}

    pending = open_request("correction", {"fields": {"phone": pending_phone}})
    with db.reading() as s:
        req = s.get(SubjectRequest, pending)
        assert req is not None
        opened = RequestService(s, load_policies()).details(req)
        assert opened == {"fields": {"phone": pending_phone}}
    erase = open_request("deletion")
    assert client.post(f"/v1/requests/{erase}/approve", headers=dpo).status_code == 200
    out = client.post(f"/v1/requests/{erase}/execute", headers=auth("dpo"))
    assert out.status_code == 200 and out.json()["request"]["result"]["erased"]

    db.checkpoint("TRUNCATE")
    main = Path(db.url.removeprefix("sqlite:///")).read_bytes()
    for phone in (new_phone, pending_phone):
        assert phone not in _rows(db, "subject_requests", "audit_events", "subject_pii")
        assert phone.encode() not in main  # not even in a freed page
    with db.reading() as s:
        req = s.get(SubjectRequest, pending)
        assert req is not None
        with pytest.raises(ErasedError):
            RequestService(s, load_policies()).details(req)
    late = client.post(f"/v1/requests/{pending}/execute", headers=dpo)
    assert late.status_code == 410 and pending_phone not in late.text


def test_a_retry_of_a_sealed_request_is_recognised(client: TestClient, auth: Auth) -> None:
    """The same Idempotency-Key and body return the first request; another body is a 409,
    though the first body is only kept sealed."""
    brand = auth("brand:brand-a")
    client.post("/v1/consents", json=consent(), headers=brand)
    body = {"brand_id": "brand-a", "subject": SUBJ, "type": "correction",
            "details": {"fields": {"phone": "13900001111"}}}
    key = {"Idempotency-Key": "correct-0001", **brand}
    first = client.post("/v1/requests", json=body, headers=key)
    again = client.post("/v1/requests", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = {**body, "details": {"fields": {"phone": "13900002222"}}}
    assert client.post("/v1/requests", json=other, headers=key).status_code == 409
