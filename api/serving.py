"""How `comity serve` runs the app: uvicorn on uvloop and httptools, and an
admission gate in front of everything.

The gate bounds the requests a worker has in hand (parsed, not yet answered). Past the
bound, a request is answered 503 with Retry-After at once, before authentication, routing
or any database work, so that a worker under overload spends microseconds on the excess
instead of queueing it until clients time out and sockets reset. Nothing is written for a
refused request: a retry under the same Idempotency-Key is safe (RFC 9110 §15.6.4).
`/healthz` and `/metrics` always pass, so operators see an overloaded worker as such.

The bound on requests in hand does not see a worker whose event loop is starved of CPU (a
busy machine, or more offered than one core parses): requests then wait inside the loop,
not in the app, and accepted ones take seconds. So the gate also samples the loop's lag (how
late a 10 ms timer fires, a moving average) and refuses new work while it is over
`max_lag_s`, as load shedders on event-loop delay do (Welsh et al., SEDA, SOSP 2001:
admission by measured response delay rather than queue length). It is off unless
`COMITY_MAX_LAG_MS` is set: on a machine shared with training, a lag of tens of
milliseconds is common and would refuse a brand's ordinary sync (the brand client retries a
503 after its Retry-After, so turning it on is safe for brand traffic).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from api.limits import ASGIApp, Receive, Scope, Send, reply_json

DEFAULT_MAX_IN_FLIGHT = 64  # per worker: ~64 / 500 requests/s ≈ 130 ms at the worst
_TICK_S = 0.01  # the lag probe's timer
_LAG_WEIGHT = 0.3  # weight of the newest lag sample in the moving average
_ALWAYS = frozenset({"/healthz", "/metrics"})
_BUSY = ("the server is at capacity; nothing was recorded, retry after Retry-After seconds "
         "(with the same Idempotency-Key)")


class AdmissionGate:
    """At most `max_in_flight` requests in the app at once, none while the event loop lags
    by more than `max_lag_s` (when set); the rest get 503 at once."""

    def __init__(self, app: ASGIApp, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 max_lag_s: float | None = None) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if max_lag_s is not None and max_lag_s <= 0:
            raise ValueError("max_lag_s must be positive")
        self.app, self.max_in_flight, self.max_lag_s = app, max_in_flight, max_lag_s
        self.in_flight = 0
        self.refused = 0
        self.lag_s = 0.0
        self._probe: asyncio.Task[None] | None = None

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(_TICK_S)
            late = max(0.0, loop.time() - start - _TICK_S)
            self.lag_s += _LAG_WEIGHT * (late - self.lag_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _ALWAYS:
            await self.app(scope, receive, send)
            return
        lagging = False
        if self.max_lag_s is not None:
            if self._probe is None or self._probe.done():  # on the worker's own loop
                self._probe = asyncio.get_running_loop().create_task(self._measure_lag())
            lagging = self.lag_s > self.max_lag_s
        if self.in_flight >= self.max_in_flight or lagging:
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
