"""Another brand's objects answer exactly as missing ones do (issue 19): a brand token that
gets 403 for one id and 404 for another learns which ids exist."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration
Auth = Callable[[str], dict[str, str]]


def test_another_brands_request_is_indistinguishable_from_a_missing_one(
        client: TestClient, auth: Auth) -> None:
    seen = client.post("/v1/consents", headers=auth("admin"), json={
        "brand_id": "brand-a", "subject": "subject000001", "purpose": "marketing",
        "action": "grant", "notice_version": "v1"})
    assert seen.status_code == 201, seen.text
    made = client.post("/v1/requests", headers=auth("dpo"), json={
        "brand_id": "brand-a", "subject": "subject000001", "type": "access"})
    assert made.status_code == 201, made.text
    theirs, missing = made.json()["id"], "00000000-0000-4000-8000-000000000000"
    other = auth("brand:brand-b")
    answers = [client.post(f"/v1/requests/{i}/execute", headers=other)
               for i in (theirs, missing)]
    assert [r.status_code for r in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert theirs not in answers[0].text
    dpo = auth("dpo")  # the DPO sees every brand's request; a missing one reads the same
    r = client.patch(f"/v1/requests/{missing}", json={"assignee": "x"}, headers=dpo)
    assert r.status_code == 404 and r.json() == answers[0].json()
    assert client.patch(f"/v1/requests/{theirs}", json={"assignee": "dpo-1"},
                        headers=dpo).status_code == 200


def test_brand_scoped_lists_answer_alike_for_existing_and_unknown_brands(
        client: TestClient, auth: Auth) -> None:
    """Lists and subjects of another brand are refused without saying whether it exists."""
    mine = auth("brand:brand-a")
    for url in ("/v1/brands/{b}/subjects", "/v1/consents?brand_id={b}",
                "/v1/requests?brand_id={b}", "/v1/consents/state?brand_id={b}&subject=s1234567"):
        answers = [client.get(url.format(b=b), headers=mine) for b in ("brand-b", "no-brand")]
        assert answers[0].status_code == answers[1].status_code == 403, url
        assert answers[0].json() == answers[1].json(), url
