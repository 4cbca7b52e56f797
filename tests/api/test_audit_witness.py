"""GET /v1/audit/checkpoints/latest, GET /v1/audit/consistency and POST /v1/audit/witness:
what a brand node needs to witness the audit log, and the DPO report's count of witnesses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from compliance.audit import merkle
from compliance.audit.service import AuditLog
from compliance.audit.signing import TreeHead
from compliance.database import Database
from privacy.keys import audit_signing_key

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


def _seal(db: Database, events: int) -> int:
    with db.unit_of_work() as s:
        for i in range(events):
            AuditLog(s).record("test.event", actor="tester", data={"i": i})
        cp = AuditLog(s).checkpoint(audit_signing_key())
        assert cp is not None and cp.tree_size is not None
        return cp.tree_size


def test_tree_heads_and_consistency_for_brands(client: TestClient, db: Database,
                                               auth: Auth) -> None:
    brand = auth("brand:brand-a")
    none = client.get("/v1/audit/checkpoints/latest", headers=brand)
    assert none.status_code == 404 and "comity audit checkpoint" in none.json()["detail"]
    m = _seal(db, 3)
    n = _seal(db, 5)
    head = TreeHead.from_json(client.get("/v1/audit/checkpoints/latest", headers=brand).json())
    assert head.tree_size == n and head.signed_by(head.public_key)
    r = client.get("/v1/audit/consistency", params={"from": m, "to": n}, headers=brand)
    assert r.status_code == 200, r.text
    body = r.json()
    old, new = TreeHead.from_json(body["from"]), TreeHead.from_json(body["to"])
    assert new == head and old.tree_size == m
    assert merkle.verify_consistency(m, n, bytes.fromhex(old.tree_root),
                                     bytes.fromhex(new.tree_root), body["proof"])
    for params, status in [({"from": n, "to": m}, 422), ({"from": m + 1, "to": n}, 404),
                           ({"from": 0, "to": n}, 422), ({"to": n}, 422)]:
        got = client.get("/v1/audit/consistency", params=params, headers=brand)
        assert got.status_code == status, (params, got.text)


def test_a_brand_records_what_it_witnessed_and_the_report_counts_it(
        client: TestClient, db: Database, auth: Auth) -> None:
    dpo = auth("dpo")
    _seal(db, 2)
    head = client.get("/v1/audit/checkpoints/latest", headers=dpo).json()
    body = {"tree_size": head["tree_size"], "tree_root": head["tree_root"]}
    report = client.get("/v1/reports/2026", headers=dpo).json()
    assert report["audit"]["witnesses"]["brands"] == 0
    assert report["audit"]["witnesses"]["alliance_brands"] == 2
    first = client.post("/v1/audit/witness", json=body, headers=auth("brand:brand-a"))
    assert first.status_code == 200, first.text
    assert first.json()["brand_id"] == "brand-a" and first.json()["new"] is True
    again = client.post("/v1/audit/witness", json=body, headers=auth("brand:brand-a"))
    assert again.json()["new"] is False
    assert client.post("/v1/audit/witness", json=body, headers=dpo).status_code == 403
    wrong = client.post("/v1/audit/witness", json={**body, "tree_root": "0" * 64},
                        headers=auth("brand:brand-b"))
    assert wrong.status_code == 409
    bad = client.post("/v1/audit/witness", json={**body, "tree_root": "xyz"},
                      headers=auth("brand:brand-b"))
    assert bad.status_code == 422 and "xyz" not in bad.text
    _seal(db, 1)  # the period's last checkpoint is now one nobody witnessed yet
    new = client.get("/v1/audit/checkpoints/latest", headers=dpo).json()
    client.post("/v1/audit/witness", headers=auth("brand:brand-b"),
                json={"tree_size": new["tree_size"], "tree_root": new["tree_root"]})
    report = client.get("/v1/reports/2026", headers=dpo).json()
    w = report["audit"]["witnesses"]
    assert (w["tree_size"], w["brands"], w["brand_ids"]) == (new["tree_size"], 1, ["brand-b"])
    html = client.get("/v1/reports/2026", params={"format": "html"}, headers=dpo).text
    assert "Brand witnesses of the period" in html and "(brand-b)" in html
