"""The admission gate's second signal: a worker whose event loop lags (starved of CPU, or
blocked) refuses new requests at once instead of accepting work it will answer seconds late;
without a lag limit set it does not."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from api.serving import AdmissionGate

pytestmark = pytest.mark.unit


async def _blocking_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/block":
        time.sleep(0.6)  # holds the loop, as a CPU-starved worker does
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _status(gate: AdmissionGate, path: str) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
    await gate({"type": "http", "path": path, "method": "GET", "headers": []},  # type: ignore[arg-type]
               receive, send)  # type: ignore[arg-type]
    return sent[0]["status"], dict(sent[0].get("headers", []))


async def _block_then_ask(gate: AdmissionGate) -> list[tuple[int, dict[bytes, bytes]]]:
    first = await _status(gate, "/ok")  # starts the lag probe
    await asyncio.sleep(0.05)
    await _status(gate, "/block")
    for _ in range(5):  # let the overdue probe tick run (0.6 s late), no further tick
        await asyncio.sleep(0)
    during = await _status(gate, "/ok")
    await asyncio.sleep(0.5)  # the moving average decays back under the limit
    after = await _status(gate, "/ok")
    return [first, during, after]


def test_a_lagging_loop_refuses_then_recovers() -> None:
    gate = AdmissionGate(_blocking_app, max_in_flight=64, max_lag_s=0.15)  # type: ignore[arg-type]
    (first, _), (during, headers), (after, _) = asyncio.run(_block_then_ask(gate))
    assert first == 200 and after == 200
    assert during == 503 and headers[b"retry-after"] == b"1"
    assert gate.refused == 1


def test_without_a_lag_limit_nothing_is_refused_for_lag() -> None:
    gate = AdmissionGate(_blocking_app, max_in_flight=64)  # type: ignore[arg-type]
    codes = [c for c, _ in asyncio.run(_block_then_ask(gate))]
    assert codes == [200, 200, 200] and gate.refused == 0


def test_a_lag_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_lag_s"):
        AdmissionGate(_blocking_app, max_lag_s=0.0)  # type: ignore[arg-type]
