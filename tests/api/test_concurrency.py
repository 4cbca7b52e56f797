"""Concurrent consent writes with retries: nothing lost, nothing doubled, the chain intact."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.database import Database


def test_concurrent_writes_and_retries_are_exactly_once(
        client: TestClient, auth: Callable[[str], dict[str, str]], db: Database) -> None:
    headers = auth("brand:brand-a")
    n = 120

    def send(i: int) -> list[int]:
        body = {"brand_id": "brand-a", "subject": f"subject{i % 17:05d}",
                "purpose": "model_training", "action": "grant" if i % 3 else "withdraw",
                "notice_version": "v1"}
        codes = []
        for _ in range(2 if i % 4 == 0 else 1):
            r = client.post("/v1/consents", json=body,
                            headers={**headers, "Idempotency-Key": f"conc-{i}"})
            codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(n)))
    assert all(codes[0] == 201 and all(c == 200 for c in codes[1:]) for codes in results)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == n
        assert s.scalar(select(func.count(func.distinct(ConsentEvent.idempotency_key)))) == n
        res = AuditLog(s).verify()
    assert res.verified, res.problem
    assert client.get("/v1/audit/verify", headers=auth("dpo")).json()["verified"] is True


def test_retention_sweep_endpoint_does_not_wait_on_itself(
        client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    r = client.post("/v1/retention/sweep", headers=auth("dpo"))
    assert r.status_code == 200, r.text
    assert r.json()["still_overdue"] == {k: 0 for k in r.json()["still_overdue"]}
