"""Idempotency-Keys and the two-person rule through the real app: a key reused with another
body is a 409, never a silently lost request; keys are scoped per principal (another brand's
key never collides); an export or erasure needs a second *person*, not a second token."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from compliance.database import Database
from compliance.requests.models import SubjectRequest

Auth = Callable[..., dict[str, str]]
SUBJECTS = ("subject0000a1", "subject0000b2")
pytestmark = pytest.mark.integration
Pair = tuple[dict[str, str], dict[str, str]]
_KEYS = itertools.count(1)  # hypothesis reuses the test's fixtures: a fresh key per example
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _subjects(client: TestClient, headers: dict[str, str], brand: str = "brand-a") -> None:
    for subject in SUBJECTS:
        r = client.post("/v1/consents", headers=headers, json={
            "brand_id": brand, "subject": subject, "purpose": "model_training",
            "action": "grant", "notice_version": "v1"})
        assert r.status_code == 201, r.text


@pytest.fixture
def pair(client: TestClient, auth: Auth) -> Pair:
    """Two principals of brand A (its CRM and its node, say), both subjects registered."""
    a, b = auth("brand:brand-a"), auth("brand:brand-a")
    _subjects(client, a)
    return a, b


def _request(subject: str = SUBJECTS[0], type_: str = "access", brand: str = "brand-a",
             **details: Any) -> dict[str, Any]:
    return {"brand_id": brand, "subject": subject, "type": type_, "details": details}


requests_bodies = st.builds(
    _request, subject=st.sampled_from(SUBJECTS),
    type_=st.sampled_from(["access", "correction", "withdraw_consent", "deletion"]),
).flatmap(lambda body: st.sampled_from([
    body, {**body, "details": {"purpose": "marketing"}},
    {**body, "details": {"fields": {"delivery_address": "1 Main St"}}}]))

consent_bodies = st.fixed_dictionaries({
    "brand_id": st.just("brand-a"), "subject": st.sampled_from(SUBJECTS),
    "purpose": st.sampled_from(["model_training", "marketing"]),
    "action": st.sampled_from(["grant", "withdraw"]),
    "notice_version": st.sampled_from(["v1", "v2"]),
    "channel": st.sampled_from(["app", "store"]),
    "by_guardian": st.booleans()})


def test_request_key_reused_with_another_body_is_a_conflict(client: TestClient,
                                                            auth: Auth) -> None:
    brand = auth("brand:brand-a")
    _subjects(client, brand)
    h = {**brand, "Idempotency-Key": "dsr-retry-0001"}
    first = client.post("/v1/requests", headers=h, json=_request(type_="deletion"))
    assert first.status_code == 201, first.text
    again = client.post("/v1/requests", headers=h, json=_request(type_="deletion"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = client.post("/v1/requests", headers=h,
                        json=_request(subject=SUBJECTS[1], type_="deletion"))
    assert other.status_code == 409, other.text
    assert "Idempotency-Key" in other.json()["detail"]


def _replay_or_conflict(client: TestClient, pair: Pair, path: str, first: dict[str, Any],
                        second: dict[str, Any]) -> str:
    """The rule itself: under one key, principal A's second body is an identical replay or
    a 409; principal B's use of the same key is its own record. Returns the key."""
    a, b = pair
    key = f"key-{next(_KEYS):08d}"
    made = client.post(path, headers={**a, "Idempotency-Key": key}, json=first)
    assert made.status_code == 201, made.text
    retry = client.post(path, headers={**a, "Idempotency-Key": key}, json=second)
    if second == first:
        assert retry.status_code == 200 and retry.json() == made.json()
    else:
        assert retry.status_code == 409, retry.text
    theirs = client.post(path, headers={**b, "Idempotency-Key": key}, json=second)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != made.json()["id"]
    return key


@pytest.mark.slow
@PROPERTY
@given(first=requests_bodies, second=requests_bodies)
def test_request_keys_replay_or_conflict_never_a_silent_other_answer(
        client: TestClient, pair: Pair, db: Database, first: dict[str, Any],
        second: dict[str, Any]) -> None:
    key = _replay_or_conflict(client, pair, "/v1/requests", first, second)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(SubjectRequest).where(
            SubjectRequest.idempotency_key == key)) == 2


@pytest.mark.slow
@PROPERTY
@given(first=consent_bodies, second=consent_bodies)
def test_consent_keys_replay_or_conflict_never_a_silent_other_answer(
        client: TestClient, pair: Pair, first: dict[str, Any], second: dict[str, Any]) -> None:
    _replay_or_conflict(client, pair, "/v1/consents", first, second)


def test_another_brands_key_never_collides(client: TestClient, auth: Auth) -> None:
    """Brand B reusing brand A's key (for a consent, a batch item or a request) records its
    own event instead of a 409 that would reveal A's key."""
    a, b = auth("brand:brand-a"), auth("brand:brand-b")
    _subjects(client, a)
    _subjects(client, b, brand="brand-b")
    event = {"subject": SUBJECTS[0], "purpose": "marketing", "action": "grant",
             "notice_version": "v1"}
    for brand, h in (("brand-a", a), ("brand-b", b)):
        r = client.post("/v1/consents", headers={**h, "Idempotency-Key": "shared-key-01"},
                        json={**event, "brand_id": brand})
        assert r.status_code == 201, r.text
        r = client.post("/v1/consents/batch", headers=h, json={"events": [
            {**event, "brand_id": brand, "idempotency_key": "import:shared01"}]})
        assert r.status_code == 200 and r.json()["created"] == 1, r.text
        r = client.post("/v1/requests", headers={**h, "Idempotency-Key": "shared-key-01"},
                        json=_request(brand=brand))
        assert r.status_code == 201, r.text


def test_two_tokens_of_one_person_are_one_person(client: TestClient, auth: Auth) -> None:
    """Minting a second dpo token for yourself does not make you a second person: the
    approval counts only from a principal other than the one who runs it (and other than
    the one who opened it)."""
    brand = auth("brand:brand-a")
    _subjects(client, brand)
    alice, alice_again, bob = (auth("dpo", "alice@dpo"), auth("dpo", "alice@dpo"),
                               auth("dpo", "bob@dpo"))
    for kind in ("access", "deletion"):
        rid = client.post("/v1/requests", headers=brand,
                          json=_request(subject=SUBJECTS[1], type_=kind)).json()["id"]
        assert client.post(f"/v1/requests/{rid}/approve", headers=alice).status_code == 200
        refused = client.post(f"/v1/requests/{rid}/execute", headers=alice_again)
        assert refused.status_code == 409, refused.text
        done = client.post(f"/v1/requests/{rid}/execute", headers=bob)
        assert done.status_code == 200, done.text
        assert done.json()["request"]["status"] == "completed"
    own = client.post("/v1/requests", headers=alice, json=_request()).json()["id"]
    refused = client.post(f"/v1/requests/{own}/approve", headers=alice_again)
    assert refused.status_code == 409, refused.text
    assert client.post(f"/v1/requests/{own}/approve", headers=bob).status_code == 200
    assert client.post(f"/v1/requests/{own}/execute", headers=alice).status_code == 200

