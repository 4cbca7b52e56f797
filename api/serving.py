"""How `comity serve` runs the app: uvicorn on uvloop and httptools, and an
admission gate in front of everything.

The gate bounds the requests a worker has in hand (parsed, not yet answered). Past the
bound, a request is answered 503 with Retry-After at once, before authentication, routing
or any database work, so that a worker under overload spends microseconds on the excess
instead of queueing it until clients time out and sockets reset. Nothing is written for a
refused request: a retry under the same Idempotency-Key is safe (RFC 9110 §15.6.4).
`/healthz` and `/metrics` always pass, so operators see an overloaded worker as such.
"""

from __future__ import annotations

import os
from typing import Any

from api.limits import ASGIApp, Receive, Scope, Send, reply_json

DEFAULT_MAX_IN_FLIGHT = 64  # per worker: ~64 / 500 requests/s ≈ 130 ms at the worst
_ALWAYS = frozenset({"/healthz", "/metrics"})
_BUSY = ("the server is at capacity; nothing was recorded, retry after Retry-After seconds "
         "(with the same Idempotency-Key)")


class AdmissionGate:
    """At most `max_in_flight` requests in the app at once; the rest get 503 at once."""

    def __init__(self, app: ASGIApp, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.app, self.max_in_flight = app, max_in_flight
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _ALWAYS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.refused += 1
            await reply_json(send, 503, _BUSY, [(b"retry-after", b"1")])
            return
        self.in_flight += 1  # one event loop per worker: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def max_in_flight() -> int:
    return int(os.environ.get("COMITY_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT))


def served_app() -> AdmissionGate:
    """uvicorn's factory for `comity serve` (each worker builds its own)."""
    from api.app import create_app

    return AdmissionGate(create_app(), max_in_flight())  # type: ignore[arg-type]


# uvloop and httptools come with uvicorn[standard]; a deep backlog so that a burst waits in
# the kernel for the gate instead of being reset; keep-alive longer than a client's pause.
UVICORN_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools", "backlog": 4096,
                                   "timeout_keep_alive": 30}
