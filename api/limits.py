"""Request size and rate limits, as one ASGI middleware in front of every endpoint.

Bodies over the limit are refused with 413 before the endpoint reads them, whether or not
the client sent a Content-Length. Requests are counted in token buckets; over the rate, 429
with Retry-After. An authenticated request counts against its principal (however its header
is spelled), every other one against the client address: requests without credentials and
failed authentications alike, so that rotating made-up tokens is limited too. While an
address is over its limit, nothing it sends is authenticated at all: failed guesses cannot
go on at full speed, and a 429 for a wrong token beside a 200 for a right one would tell a
guesser which is which. The buckets live in the process: with several workers, each
enforces the limit on its own share.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RateKey = Callable[[Scope], str | None]  # the principal's key, None if not authenticated


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    rate_per_second: float = 1000.0
    burst: int = 2000

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        return cls(int(os.environ.get("COMITY_MAX_BODY_BYTES", d.max_body_bytes)),
                   float(os.environ.get("COMITY_RATE_LIMIT", d.rate_per_second)),
                   int(os.environ.get("COMITY_RATE_BURST", d.burst)))


class TokenBuckets:
    """Pure bookkeeping; `now` is passed in so that tests need no clock."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def peek(self, key: str, now: float) -> float:
        """What `take` would answer, without taking anything."""
        with self._lock:
            tokens = self._tokens(key, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str, now: float) -> float:
        """0 if the request may pass, else the seconds until it could."""
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory; forgetting only lets requests through
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0


async def reply_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]
                 ) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """`rate_key` authenticates a request that carries credentials (`api.deps.rate_key`);
    without it every request counts against its address."""

    def __init__(self, app: ASGIApp, limits: Limits | None = None,
                 rate_key: RateKey | None = None) -> None:
        self.app = app
        self.limits = limits or Limits.from_env()
        self.buckets = TokenBuckets(self.limits.rate_per_second, self.limits.burst)
        self.rate_key = rate_key

    def _wait(self, scope: Scope, now: float) -> float:
        client = scope.get("client") or ("-", 0)
        address = f"addr:{client[0]}"
        credentials = any(name == b"authorization" for name, _ in scope.get("headers", []))
        if self.rate_key is None or not credentials:
            return self.buckets.take(address, now)
        wait = self.buckets.peek(address, now)
        if wait > 0:
            return wait
        return self.buckets.take(self.rate_key(scope) or address, now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/healthz":
            await self.app(scope, receive, send)
            return
        wait = self._wait(scope, time.monotonic())
        if wait > 0:
            await reply_json(send, 429, "rate limit exceeded; retry later",
                         [(b"retry-after", str(max(1, round(wait))).encode())])
            return
        limit = self.limits.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await reply_json(send, 413, f"request body over {limit} bytes", [])
                return
        # Read the body here, at most limit + 1 bytes, so that an oversized one is refused
        # before any endpoint parses it (FastAPI turns errors while reading into a 400).
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await reply_json(send, 413, f"request body over {limit} bytes", [])
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks),
                                        "more_body": False}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that hands out the buffered messages, then defers to the real one."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
