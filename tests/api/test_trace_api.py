from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from compliance.audit.service import AuditLog
from compliance.database import Database

Auth = Callable[..., dict[str, str]]


def test_trace_by_subject_over_the_api(client: TestClient, auth: Auth, db: Database) -> None:
    with db.unit_of_work() as s:
        AuditLog(s).record("gate.decision", actor="brand:brand-a", brand_id="brand-a",
                           rule_id="pipl.consent", data={"run_id": "r9", "subject": "p-77",
                                                         "purpose": "model_training"})
    r = client.get("/v1/audit/trace", params={"subject": "p-77"}, headers=auth("dpo"))
    assert r.status_code == 200, r.text
    (ev,) = r.json()["events"]
    assert ev["rule_id"] == "pipl.consent" and ev["actor"] == "brand:brand-a"
    assert ev["data_categories"] and len(ev["evidence_digest"]) == 64
    assert client.get("/v1/audit/trace", params={"run": "r9", "since": "1h"},
                      headers=auth("dpo")).json()["count"] == 1


def test_trace_needs_exactly_one_target_and_a_dpo(client: TestClient, auth: Auth) -> None:
    assert client.get("/v1/audit/trace", headers=auth("dpo")).status_code == 422
    assert client.get("/v1/audit/trace", params={"subject": "a", "run": "b"},
                      headers=auth("dpo")).status_code == 422
    assert client.get("/v1/audit/trace", params={"subject": "a", "since": "7w"},
                      headers=auth("dpo")).status_code == 422
    assert client.get("/v1/audit/trace", params={"subject": "a"},
                      headers=auth("brand:brand-a")).status_code == 403
