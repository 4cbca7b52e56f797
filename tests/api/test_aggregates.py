"""/v1/aggregates and /v1/budgets through the real app: roles, 4xx bodies, concurrency."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from compliance.database import Database
from compliance.policy.loader import load_policies
from privacy.aggregates.models import BudgetLedger, DpRelease
from privacy.aggregates.service import AggregateService
from tests.api.conftest import live_server
from tests.privacy.aggregates.conftest import CITIES, customers_frame

Auth = Callable[[str], dict[str, str]]
QUERY = {"dataset": "customers", "measure": "count", "group_by": ["city"], "epsilon": 0.1}


@pytest.fixture
def registered(db: Database, tmp_path: Path) -> AggregateService:
    path = tmp_path / "customers.parquet"
    customers_frame(2000).write_parquet(path)
    svc = AggregateService(db, load_policies())
    svc.register("customers", path, "cid", actor="test", bounds={"spend": (0.0, 1000.0)},
                 categories={"city": CITIES}, data_categories={"city": "city"})
    svc.set_budget("service:growth", "customers", 1.0, actor="test")
    return svc


@pytest.mark.integration
def test_service_gets_an_answer_and_sees_only_its_budgets(
        client: TestClient, auth: Auth, registered: AggregateService) -> None:
    r = client.post("/v1/aggregates", json=QUERY, headers=auth("service:growth"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [g["key"]["city"] for g in body["groups"]] == sorted(CITIES)
    assert body["epsilon_spent"] == 0.1 and body["suppressed"] == 0
    assert all(len(g["ci95"]) == 2 for g in body["groups"])
    client.post("/v1/aggregates", json=QUERY, headers=auth("service:other"))
    mine = client.get("/v1/budgets", headers=auth("service:growth")).json()
    assert [(b["requester"], b["spent_epsilon"]) for b in mine] == [("service:growth", 0.1)]
    everyone = client.get("/v1/budgets", headers=auth("dpo")).json()
    assert {b["requester"] for b in everyone} == {"service:growth", "service:other"}


@pytest.mark.integration
@pytest.mark.parametrize(("body", "status", "words"), [
    ({**QUERY, "measure": "median"}, 422, "measure"),
    ({**QUERY, "group_by": ["nope"]}, 422, "group_by[0]"),
    ({**QUERY, "epsilon": 0}, 422, "epsilon"),
    ({**QUERY, "filters": [{"column": "city", "op": "like", "value": "%"}]}, 422, "op"),
    ({**QUERY, "dataset": "missing"}, 404, "dataset"),
])
def test_bad_queries_get_a_4xx_naming_the_field(client: TestClient, auth: Auth,
                                                registered: AggregateService,
                                                body: dict[str, object], status: int,
                                                words: str) -> None:
    r = client.post("/v1/aggregates", json=body, headers=auth("service:growth"))
    assert r.status_code == status
    assert words in r.text


@pytest.mark.integration
def test_brand_and_admin_tokens_are_refused(client: TestClient, auth: Auth,
                                            registered: AggregateService) -> None:
    assert client.post("/v1/aggregates", json=QUERY,
                       headers=auth("brand:brand-a")).status_code == 403
    assert client.post("/v1/aggregates", json=QUERY, headers=auth("admin")).status_code == 403
    assert client.post("/v1/aggregates", json=QUERY).status_code == 401


@pytest.mark.integration
@pytest.mark.slow
def test_concurrent_requests_never_overspend(client: TestClient, auth: Auth, db: Database,
                                             registered: AggregateService) -> None:
    headers = auth("service:growth")
    with live_server(client.app) as base, httpx.Client(base_url=base, timeout=60) as http, \
            ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: http.post("/v1/aggregates", json=QUERY,
                                                  headers=headers), range(60)))
    ok = [r for r in codes if r.status_code == 200]
    refused = [r for r in codes if r.status_code == 429]
    others = [(r.status_code, r.text[:300]) for r in codes if r.status_code not in (200, 429)]
    assert len(ok) == 10 and len(refused) == 50, others
    assert all(r.json()["epsilon_remaining"] == pytest.approx(0.0, abs=1e-9) for r in refused)
    with db.reading() as s:
        assert s.scalar(select(BudgetLedger.spent_micro)) == 1_000_000
        assert s.scalar(select(func.count()).select_from(DpRelease)) == 10
