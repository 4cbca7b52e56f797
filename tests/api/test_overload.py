"""Overload on loopback, short and bounded: excess refused with a well-formed 503 and
Retry-After, no connection reset, nothing accepted lost, a retry under the same key safe.
Qualitative only: speed targets live in benchmarks/compliance_bench.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.serving import AdmissionGate
from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.database import Database
from compliance.subjects.service import SubjectService
from tests.api.conftest import live_server


@pytest.fixture
def gated(db: Database) -> Iterator[tuple[str, AdmissionGate]]:
    """The app behind the admission gate of `comity serve`, with a small bound."""
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-a", "Brand A", "pipl", actor="test")
    gate = AdmissionGate(create_app(db), max_in_flight=4)  # type: ignore[arg-type]
    with live_server(gate) as base:
        yield base, gate


async def _burst(base: str, headers: dict[str, str], keys: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(keys))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def one(key: str) -> httpx.Response:
            body = {"brand_id": "brand-a", "subject": f"subject-{key}", "action": "grant",
                    "purpose": "model_training", "notice_version": "v1"}
            return await client.post("/v1/consents", json=body,
                                     headers={**headers, "Idempotency-Key": key})
        return await asyncio.gather(*(one(k) for k in keys))


def test_excess_is_refused_well_formed_and_nothing_accepted_is_lost(
        gated: tuple[str, AdmissionGate], auth: Callable[[str], dict[str, str]],
        db: Database) -> None:
    base, gate = gated
    headers = auth("brand:brand-a")
    keys = [f"load-{i:04d}" for i in range(100)]
    first = asyncio.run(_burst(base, headers, keys))  # a connection reset would raise here
    codes = [r.status_code for r in first]
    assert set(codes) <= {201, 503}, codes
    refused = [k for k, r in zip(keys, first, strict=True) if r.status_code == 503]
    assert refused and gate.refused >= len(refused) - sum(  # the gate or the writer refused
        "consent writer" in r.json()["detail"] for r in first if r.status_code == 503)
    for r in first:
        if r.status_code == 503:
            assert r.headers["retry-after"].isdigit()
            assert r.headers["content-type"] == "application/json"
            assert "retry" in r.json()["detail"]
    accepted = {k for k, r in zip(keys, first, strict=True) if r.status_code == 201}
    with db.reading() as s:
        stored = set(s.scalars(select(ConsentEvent.idempotency_key)))
    assert stored == accepted  # every 201 is stored, nothing refused was written

    with httpx.Client(base_url=base, timeout=30) as client:  # retried one at a time
        for key in refused:
            body = {"brand_id": "brand-a", "subject": f"subject-{key}", "action": "grant",
                    "purpose": "model_training", "notice_version": "v1"}
            r = client.post("/v1/consents", json=body,
                            headers={**headers, "Idempotency-Key": key})
            assert r.status_code == 201, r.text
        for key in keys[:3]:  # and a retry of an accepted one replays it
            body = {"brand_id": "brand-a", "subject": f"subject-{key}", "action": "grant",
                    "purpose": "model_training", "notice_version": "v1"}
            r = client.post("/v1/consents", json=body,
                            headers={**headers, "Idempotency-Key": key})
            assert r.status_code == 200, r.text
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == len(keys)
        assert s.scalar(select(func.count(func.distinct(ConsentEvent.idempotency_key)))
                        ) == len(keys)
        assert AuditLog(s).verify().verified
