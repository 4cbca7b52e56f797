"""Request size and rate limits in front of every endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.limits import Limits, TokenBuckets
from compliance.database import Database


@pytest.mark.unit
def test_token_bucket_refills_at_the_rate() -> None:
    b = TokenBuckets(rate=2.0, burst=3)
    assert [b.take("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("k", 0.0) == pytest.approx(0.5)
    assert b.take("k", 0.6) == 0.0
    assert b.take("other", 0.6) == 0.0


@pytest.mark.integration
def test_oversized_bodies_are_refused_with_413(db: Database,
                                               auth: Callable[[str], dict[str, str]]) -> None:
    client = TestClient(create_app(db, Limits(max_body_bytes=2000)))
    headers = auth("dpo")
    big = {"items": [{"id": "1", "text": "x" * 5000}]}
    r = client.post("/v1/pii/scan", json=big, headers=headers)
    assert r.status_code == 413 and "2000" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it is read
        yield b'{"items": [{"id": "1", "text": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}]}'

    r = client.post("/v1/pii/scan", content=chunks(),
                    headers={**headers, "content-type": "application/json"})
    assert r.status_code == 413
    small = client.post("/v1/pii/scan", json={"items": [{"id": "1", "text": "hi"}]},
                        headers=headers)
    assert small.status_code == 200


@pytest.mark.integration
def test_rate_limit_per_token(db: Database, auth: Callable[[str], dict[str, str]]) -> None:
    client = TestClient(create_app(db, Limits(rate_per_second=0.5, burst=3)))
    mine, other = auth("dpo"), auth("dpo")
    codes = [client.get("/v1/audit/verify", headers=mine).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/v1/audit/verify", headers=mine)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert client.get("/v1/audit/verify", headers=other).status_code == 200
    assert client.get("/healthz").status_code == 200


def _limited(db: Database, burst: int = 3) -> TestClient:
    return TestClient(create_app(db, Limits(rate_per_second=0.01, burst=burst)))


@pytest.mark.integration
def test_rotating_invalid_tokens_is_limited_per_address(db: Database) -> None:
    """Each made-up token used to get a fresh bucket; failures now count per address."""
    client = _limited(db)
    codes = [client.get("/v1/audit/verify",
                        headers={"Authorization": f"Bearer cmt_guess{i}"}).status_code
             for i in range(4)]
    assert codes == [401, 401, 401, 429]
    elsewhere = TestClient(client.app, client=("198.51.100.7", 4000))  # not affected
    r = elsewhere.get("/v1/audit/verify", headers={"Authorization": "Bearer cmt_guess9"})
    assert r.status_code == 401


@pytest.mark.integration
def test_an_address_over_its_limit_is_not_authenticated(
        db: Database, auth: Callable[..., dict[str, str]]) -> None:
    """Once failures exhaust an address, a right token from it is refused like a wrong one:
    otherwise 429 for every wrong guess and 200 for the right one is an oracle."""
    client = _limited(db)
    good = auth("dpo")
    for i in range(3):
        client.get("/v1/audit/verify", headers={"Authorization": f"Bearer wrong{i}"})
    assert client.get("/v1/audit/verify", headers=good).status_code == 429
    elsewhere = TestClient(client.app, client=("203.0.113.9", 4000))
    assert elsewhere.get("/v1/audit/verify", headers=good).status_code == 200


@pytest.mark.integration
def test_requests_without_credentials_are_limited_per_address(db: Database) -> None:
    client = _limited(db)
    assert [client.get("/openapi.json").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert TestClient(client.app, client=("203.0.113.9", 1)).get("/openapi.json"
                                                                 ).status_code == 200


def _spellings(token: str) -> st.SearchStrategy[str]:
    """The ways one token may be written in the header, all accepted as the same one."""
    return st.builds(lambda scheme, gap, tail: f"{scheme}{gap}{token}{tail}",
                     st.sampled_from(["Bearer ", "bearer ", "BEARER ", "BeArEr "]),
                     st.sampled_from(["", " ", "  ", "\t"]),
                     st.sampled_from(["", " ", "   ", "\t", " \t "]))


@pytest.mark.integration
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_one_principal_is_one_bucket_however_its_token_is_written(
        db: Database, auth: Callable[..., dict[str, str]], data: st.DataObject) -> None:
    """A valid token with trailing spaces used to get a fresh bucket; a second token of the
    same principal too. Both count against the principal now; another principal does not."""
    client = _limited(db, burst=4)
    name = f"svc-{data.draw(st.uuids()).hex[:12]}"
    tokens = [auth("dpo", principal=name)["Authorization"].split(" ", 1)[1] for _ in range(2)]
    headers = [data.draw(_spellings(data.draw(st.sampled_from(tokens)))) for _ in range(5)]
    codes = [client.get("/v1/audit/verify", headers={"Authorization": h}).status_code
             for h in headers]
    assert codes == [200, 200, 200, 200, 429]
    assert client.get("/v1/audit/verify", headers=auth("dpo")).status_code == 200
