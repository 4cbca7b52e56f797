"""Restriction (PIPL Art. 44; GDPR Art. 18), objection (GDPR Art. 21) and the CCPA opt-out
of sale and sharing, with the Global Privacy Control signal on the consent API (issue 22)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from compliance.database import Database
from compliance.subjects.service import SubjectService

Auth = Callable[..., dict[str, str]]
pytestmark = pytest.mark.integration
SUBJ = "restrict0subject1"


def _grant(client: TestClient, h: dict[str, str], brand: str, *purposes: str) -> None:
    for p in purposes:
        r = client.post("/v1/consents", headers=h, json={
            "brand_id": brand, "subject": SUBJ, "purpose": p, "action": "grant",
            "notice_version": "2026-01"})
        assert r.status_code == 201, r.text


def _states(client: TestClient, h: dict[str, str], brand: str) -> dict[str, str]:
    r = client.get(f"/v1/consents/state?brand_id={brand}&subject={SUBJ}", headers=h)
    return dict(r.json()["states"])


@pytest.mark.parametrize("kind,refused,kept", [
    ("objection", {"marketing", "personalized_recommendation"}, {"model_training"}),
    ("restriction", {"marketing", "model_training"}, set()),
])
def test_restriction_and_objection_stop_processing(client: TestClient, auth: Auth, kind: str,
                                                   refused: set[str], kept: set[str]) -> None:
    h = auth("brand:brand-b")
    _grant(client, h, "brand-b", "marketing", "model_training")
    r = client.post("/v1/requests", headers=h, json={"brand_id": "brand-b", "subject": SUBJ,
                                                     "type": kind})
    assert r.status_code == 201, r.text
    req = r.json()
    assert "Art. 12(3)" in req["deadline_source"]
    done = client.post(f"/v1/requests/{req['id']}/execute", headers=h)
    assert done.status_code == 200, done.text
    states = _states(client, h, "brand-b")
    assert all(states[p] == "refused" for p in refused & set(states))
    assert all(states[p] == "granted" for p in kept)


def test_ccpa_opt_out_deadline_and_gpc(client: TestClient, auth: Auth, db: Database) -> None:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-c", "Brand C", "ccpa", actor="test")
    h = auth("brand:brand-c")
    _grant(client, h, "brand-c", "cross_brand_sharing", "model_training")
    r = client.post("/v1/requests", headers=h, json={"brand_id": "brand-c", "subject": SUBJ,
                                                     "type": "opt_out_sale"}).json()
    from datetime import datetime
    days = (datetime.fromisoformat(r["due_at"]) - datetime.fromisoformat(r["received_at"])).days
    assert days == 15  # 11 CCR 7026(f), not the 45 days of 1798.130
    body = {"brand_id": "brand-c", "subject": SUBJ}
    assert client.post("/v1/consents/gpc", headers=h, json=body).status_code == 422
    gpc = client.post("/v1/consents/gpc", headers={**h, "Sec-GPC": "1"}, json=body)
    assert gpc.status_code == 200, gpc.text
    assert set(gpc.json()["refused"]) == {"cross_brand_sharing", "marketing"}
    assert client.post("/v1/consents/gpc", headers={**h, "Sec-GPC": "1"},
                       json=body).status_code == 200  # a repeated signal adds nothing
    states = _states(client, h, "brand-c")
    assert states["cross_brand_sharing"] == "refused" and states["model_training"] == "granted"


def test_sec_gpc_on_the_consent_api_sets_the_opt_out(client: TestClient, auth: Auth,
                                                      db: Database) -> None:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-c", "Brand C", "ccpa", actor="test")
    h = auth("brand:brand-c")
    _grant(client, h, "brand-c", "model_training")
    r = client.post("/v1/consents", headers={**h, "Sec-GPC": "1"}, json={
        "brand_id": "brand-c", "subject": SUBJ, "purpose": "cross_brand_sharing",
        "action": "grant", "notice_version": "2026-01"})
    assert r.status_code == 201, r.text
    assert set(r.headers["Sec-GPC-Refused"].split(",")) == {"cross_brand_sharing", "marketing"}
    states = _states(client, h, "brand-c")  # the opt-out wins over the grant (7025(c)(3))
    assert states["cross_brand_sharing"] == "refused" and states["model_training"] == "granted"
    plain = client.post("/v1/consents", headers={**h, "Sec-GPC": "0"}, json={
        "brand_id": "brand-c", "subject": SUBJ, "purpose": "marketing", "action": "grant",
        "notice_version": "2026-01"})
    assert "Sec-GPC-Refused" not in plain.headers
    assert _states(client, h, "brand-c")["marketing"] == "granted"


def test_explanation_request_records_the_factors_given(client: TestClient,
                                                       auth: Auth) -> None:
    h = auth("brand:brand-b")
    _grant(client, h, "brand-b", "personalized_recommendation")
    bare = client.post("/v1/requests", headers=h, json={
        "brand_id": "brand-b", "subject": SUBJ, "type": "explanation"}).json()
    assert "Art. 12(3)" in bare["deadline_source"]  # the jurisdiction's deadline
    assert client.post(f"/v1/requests/{bare['id']}/execute", headers=h).status_code == 422
    r = client.post("/v1/requests", headers=h, json={
        "brand_id": "brand-b", "subject": SUBJ, "type": "explanation",
        "details": {"factors": ["days since the last purchase = 200 raised the churn risk"]}})
    done = client.post(f"/v1/requests/{r.json()['id']}/execute", headers=h)
    assert done.status_code == 200, done.text
    assert done.json()["request"]["status"] == "completed"
    assert done.json()["request"]["result"] == {"explained": True, "factors_given": 1}
    assert _states(client, h, "brand-b")["personalized_recommendation"] == "granted"
