"""Request size and rate limits in front of every endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

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
