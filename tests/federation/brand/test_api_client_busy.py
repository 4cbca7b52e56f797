"""A brand's client sends a request again after a 503 (the coordinator recorded nothing) at
the server's Retry-After, a bounded number of times; other errors are not retried."""

from __future__ import annotations

import httpx
import pytest

from compliance.errors import ComityError
from federation.brand import api_client
from federation.brand.api_client import CoordinatorClient

pytestmark = pytest.mark.unit


def _client(replies: list[int], seen: list[httpx.Request]) -> CoordinatorClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        code = replies.pop(0) if replies else 200
        if code == 503:
            return httpx.Response(503, headers={"retry-after": "2"},
                                  json={"detail": "the server is at capacity"})
        return httpx.Response(code, json={"detail": "no"} if code >= 400 else [])
    client = CoordinatorClient("http://coordinator", "token")
    client._http = httpx.Client(base_url="http://coordinator",
                                transport=httpx.MockTransport(handler))
    return client


def test_busy_is_retried_after_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(api_client.time, "sleep", waits.append)
    seen: list[httpx.Request] = []
    client = _client([503, 503], seen)
    assert client._call("POST", "/v1/consents/batch", json={"events": []}) == []
    assert len(seen) == 3 and waits == [2.0, 2.0]
    assert {r.content for r in seen} == {seen[0].content}  # the same body each time


def test_retries_are_bounded_and_other_errors_are_not_retried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_client.time, "sleep", lambda _s: None)
    seen: list[httpx.Request] = []
    client = _client([503] * 10, seen)
    with pytest.raises(ComityError, match="503"):
        client._call("GET", "/v1/brands/a/subjects")
    assert len(seen) == api_client.BUSY_RETRIES + 1
    seen.clear()
    with pytest.raises(ComityError, match="422"):
        _client([422], seen)._call("POST", "/v1/consents/batch")
    assert len(seen) == 1


@pytest.mark.parametrize(("header", "wait"), [("3", 3.0), ("600", 5.0),
                                              ("Wed, 21 Oct 2026 07:28:00 GMT", 1.0)])
def test_retry_after_is_read_and_capped(header: str, wait: float) -> None:
    assert api_client._retry_after(httpx.Response(503, headers={"retry-after": header})) == wait
