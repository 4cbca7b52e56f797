"""/v1/brands, a brand's subjects, batch consent import and /v1/models: who may do what, and
that one brand's token never reads another brand's records or a model it did not help train."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from compliance.database import Database
from federation.coordinator.lineage.service import BrandLineage, LineageService
from federation.settings import RunSettings

Auth = Callable[[str], dict[str, str]]
EVENT = {"brand_id": "brand-a", "subject": "pseudo0000001", "purpose": "model_training",
         "action": "grant", "notice_version": "v1", "idempotency_key": "import:aaaa0001"}


def test_only_an_admin_registers_brands_and_each_id_once(client: TestClient,
                                                         auth: Auth) -> None:
    admin = auth("admin")
    body = {"id": "jade-beauty", "name": "Jade Beauty", "jurisdiction": "pipl"}
    assert client.post("/v1/brands", json=body, headers=auth("brand:brand-a")).status_code == 403
    r = client.post("/v1/brands", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["id"] == "jade-beauty"
    again = client.post("/v1/brands", json=body, headers=admin)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    bad = client.post("/v1/brands", json={**body, "id": "x2", "jurisdiction": "mars"},
                      headers=admin)
    assert bad.status_code == 422 and "unknown jurisdiction" in bad.json()["detail"]
    assert client.post("/v1/brands", json={**body, "id": "Bad Id!"}, headers=admin
                       ).status_code == 422
    ids = [b["id"] for b in client.get("/v1/brands", headers=admin).json()]
    assert ids == ["brand-a", "brand-b", "jade-beauty"]
    assert client.get("/v1/brands", headers=auth("brand:brand-a")).status_code == 403


def test_a_brand_reads_and_writes_only_its_own_consent_records(client: TestClient,
                                                               auth: Auth) -> None:
    a, b = auth("brand:brand-a"), auth("brand:brand-b")
    r = client.post("/v1/consents/batch", json={"events": [EVENT]}, headers=a)
    assert r.status_code == 200 and r.json() == {"created": 1, "replayed": 0}
    assert client.post("/v1/consents/batch", json={"events": [EVENT]}, headers=a
                       ).json() == {"created": 0, "replayed": 1}
    assert client.post("/v1/consents/batch", json={"events": [EVENT]}, headers=b
                       ).status_code == 403
    assert client.get("/v1/consents", params={"brand_id": "brand-a"}, headers=b
                      ).status_code == 403
    assert client.get("/v1/brands/brand-a/subjects", headers=b).status_code == 403
    mine = client.get("/v1/brands/brand-a/subjects", headers=a).json()
    assert [s["subject"] for s in mine] == [EVENT["subject"]] and not mine[0]["is_minor"]
    too_many = [{**EVENT, "idempotency_key": f"import:k{i:08d}"} for i in range(5001)]
    assert client.post("/v1/consents/batch", json={"events": too_many}, headers=a
                       ).status_code == 422


def test_a_brand_gets_only_models_it_helped_train(client: TestClient, auth: Auth,
                                                  db: Database) -> None:
    a, b = auth("brand:brand-a"), auth("brand:brand-b")
    assert client.get("/v1/models/churn/latest", headers=b).status_code == 404
    settings = RunSettings(run_id="run-b", brands=("brand-b",),
                           consent_as_of="2026-09-30T00:00:00+00:00")
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3)]
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.record_brands("run-b", [BrandLineage("brand-b", 5, 0, 0, "0" * 64, {})])
        mv = lineage.complete("run-b", {"final": {"auc": 0.8}}, weights)
    got = client.get("/v1/models/churn/latest", headers=b).json()
    blob = base64.b64decode(got["weights"])
    assert got["version"] == mv.version and hashlib.sha256(blob).hexdigest() == \
        got["weights_sha256"] == mv.weights_sha256
    assert "database_url" not in got["config"] and "silo_root" not in got["config"]
    assert client.get("/v1/models/churn/latest", headers=a).status_code == 404
    serving = {"requested": 3, "personalized": 2, "not_personalized": 1}
    path = f"/v1/models/churn/versions/{mv.version}/servings"
    assert client.post(path, json=serving, headers=a).status_code == 404
    assert client.post(path, json={**serving, "subject": "pseudo0000001"}, headers=b
                       ).status_code == 422  # counts only, no identifiers
    assert client.post(path, json=serving, headers=b).status_code == 204
    assert client.get("/v1/models", headers=b).status_code == 403
    assert [m["run_id"] for m in client.get("/v1/models", headers=auth("dpo")).json()] == [
        "run-b"]
