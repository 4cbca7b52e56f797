"""/metrics scraped through the real app and database: the series move with what happens,
route labels are templates, and JSON logs carry one event per request and no personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import jsonlog
from api.app import create_app
from compliance.database import Database
from federation.coordinator.lineage.service import LineageService
from federation.settings import RunSettings
from privacy.aggregates.service import AggregateService
from tests.api.test_aggregates import QUERY, registered  # noqa: F401  (fixture)

Auth = Callable[[str], dict[str, str]]
SUBJ = "a1b2c3d4e5f6a7b8"
pytestmark = pytest.mark.integration


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def grant(client: TestClient, headers: dict[str, str], action: str = "grant") -> int:
    return client.post("/v1/consents", headers=headers, json={
        "brand_id": "brand-a", "subject": SUBJ, "purpose": "model_training",
        "action": action, "notice_version": "2026-01"}).status_code


def test_counters_move_with_requests_consents_audit_budget_and_training(
        client: TestClient, auth: Auth, db: Database,
        registered: AggregateService) -> None:  # noqa: F811
    before = scrape(client)
    assert value(before, "comity_database_up") == 1
    brand = auth("brand:brand-a")
    assert grant(client, brand) == 201 and grant(client, brand, "withdraw") == 201
    assert client.post(f"/v1/requests/{'9' * 12}/approve",
                       headers=auth("dpo")).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.post("/v1/aggregates", json=QUERY,
                       headers=auth("service:growth")).status_code == 200
    assert client.get("/v1/audit/verify", headers=auth("dpo")).json()["verified"]
    settings = RunSettings(run_id="run-metrics", brands=("brand-a",),
                           consent_as_of="2026-09-30T00:00:00+00:00")
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.round_failed("run-metrics", 1, 1, "brand-a did not answer")
        lineage.save_round("run-metrics", 1, [np.ones((2, 2), dtype=np.float32)], {}, 2)
    after = scrape(client)

    consents = "/v1/consents"
    assert value(after, "comity_http_requests_total", route=consents, method="POST",
                 status="201") == 2
    # the template, never the id the client sent; unknown paths share one series
    assert value(after, "comity_http_requests_total", route="/v1/requests/{request_id}/approve",
                 method="POST", status="404") == 1
    assert value(after, "comity_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1
    assert not any("9" * 12 in dict(k[1]).get("route", "") for k in after)
    assert value(after, "comity_http_request_duration_seconds_count", route=consents,
                 method="POST") == 2
    assert value(after, "comity_http_request_duration_seconds_bucket", route=consents,
                 method="POST", le="+Inf") == 2
    assert value(after, "comity_consent_events_total", brand="brand-a", action="grant") == 1
    assert value(after, "comity_consent_events_total", brand="brand-a",
                 action="withdraw") == 1
    assert value(after, "comity_audit_chain_length") > value(before, "comity_audit_chain_length")
    assert value(after, "comity_audit_last_verification_ok") == 1
    assert value(after, "comity_audit_last_verification_timestamp_seconds") > 0
    assert value(after, "comity_audit_verifications_total", result="verified") == 1
    assert value(after, "comity_privacy_budget_spent_epsilon_total",
                 requester="service:growth", dataset="customers") == pytest.approx(0.1)
    assert value(after, "comity_dp_releases_total", requester="service:growth",
                 dataset="customers") == 1
    assert value(after, "comity_training_runs", model="churn", status="running") == 1
    assert value(after, "comity_training_rounds_total", model="churn") == 1
    assert value(after, "comity_training_round_attempts_total", model="churn") == 2
    assert value(after, "comity_training_round_failures_total") == 1
    assert not any(SUBJ in dict(k[1]).values() for k in after)


def test_a_database_that_does_not_answer_is_a_series_not_a_failed_scrape(
        db: Database) -> None:
    client = TestClient(create_app(db))
    db.engine.dispose()
    with db.engine.begin() as con:
        con.exec_driver_sql("DROP TABLE consent_events")
    samples = scrape(client)
    assert value(samples, "comity_database_up") == 0
    assert value(samples, "comity_http_requests_total", route="/metrics", method="GET",
                 status="200") == 0  # counted when it finishes: the next scrape shows it
    assert value(scrape(client), "comity_http_requests_total", route="/metrics",
                 method="GET", status="200") == 1


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = jsonlog.configure(stream)
    level = logging.getLogger().level
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)


def test_json_logs_one_event_per_request_without_personal_data(
        client: TestClient, auth: Auth, json_logs: io.StringIO) -> None:
    assert grant(client, auth("brand:brand-a")) == 201
    client.get(f"/v1/consents?subject={SUBJ}", headers=auth("dpo"))
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    http = [e for e in lines if e["event"] == "http.request"]
    assert [(e["method"], e["route"], e["status"]) for e in http] == [
        ("POST", "/v1/consents", 201), ("GET", "/v1/consents", 200)]
    assert all(e["duration_ms"] >= 0 and e["level"] == "info" for e in http)
    assert SUBJ not in json_logs.getvalue()
    assert "Bearer" not in json_logs.getvalue()


def test_the_flag_turns_json_logs_on(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    create_app(db)
    assert not any(isinstance(h, jsonlog.JsonHandler) for h in root.handlers)
    monkeypatch.setenv(jsonlog.ENV, "json")
    level = root.level
    create_app(db)
    try:
        assert sum(isinstance(h, jsonlog.JsonHandler) for h in root.handlers) == 1
    finally:
        for h in [h for h in root.handlers if isinstance(h, jsonlog.JsonHandler)]:
            root.removeHandler(h)
        root.setLevel(level)
