"""Consent time semantics (policies/consent.yaml): no event counts from after it was
recorded, far-future dates are refused, late events never rewrite an issued report."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from compliance.consent.models import ConsentEvent
from compliance.consent.state import event_time
from compliance.database import Database, utcnow
from compliance.errors import InputError
from compliance.policy.schemas import ConsentTimePolicy
from compliance.report.builder import build_period_report
from compliance.report.issue import issue_report
from compliance.report.period import parse_period
from compliance.report.render import render

Auth = Callable[[str], dict[str, str]]
POLICY = ConsentTimePolicy(max_clock_skew_seconds=300, late_after_seconds=86400)
T = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.unit
def test_event_time_rules() -> None:
    assert event_time(None, T, POLICY).occurred_at == T
    assert event_time(T + timedelta(seconds=299), T, POLICY).occurred_at == T
    with pytest.raises(InputError, match="future") as info:
        event_time(T + timedelta(seconds=301), T, POLICY)
    assert info.value.column == "occurred_at"
    with pytest.raises(InputError, match="time zone"):
        event_time(datetime(2026, 1, 1), T, POLICY)  # noqa: DTZ001
    past = event_time(T - timedelta(days=2), T, POLICY)
    assert past.occurred_at == T - timedelta(days=2) and past.late
    assert not event_time(T - timedelta(hours=1), T, POLICY).late


_counter = itertools.count()
# Seconds relative to the server clock: None (undated), the past, within the skew, far future.
OFFSETS = st.one_of(st.none(), st.integers(-400 * 86400, 0), st.integers(1, 290),
                    st.integers(400, 10 * 365 * 86400))


class ConsentTimeline(RuleBasedStateMachine):
    """One subject's events through the real API; the model orders accepted events by the
    (occurred_at, id) the server answered with and must agree with the stored state."""

    client: TestClient
    headers: dict[str, str]
    db: Database

    def __init__(self) -> None:
        super().__init__()
        self.subject = f"subjtime{next(_counter):08d}"
        self.accepted: list[tuple[datetime, int, str]] = []

    def _count(self) -> int:
        with self.db.reading() as s:
            return int(s.scalar(select(func.count()).select_from(ConsentEvent)) or 0)

    @rule(action=st.sampled_from(["grant", "withdraw", "refuse"]), offset=OFFSETS)
    def record(self, action: str, offset: int | None) -> None:
        body: dict[str, object] = {"brand_id": "brand-a", "subject": self.subject,
                                   "purpose": "model_training", "action": action,
                                   "notice_version": "2026-01"}
        if offset is not None:
            body["occurred_at"] = (utcnow() + timedelta(seconds=offset)).isoformat()
        before = self._count()
        r = self.client.post("/v1/consents", json=body, headers=self.headers)
        if offset is not None and offset > POLICY.max_clock_skew_seconds:
            assert r.status_code == 422 and "future" in r.json()["detail"]
            assert self._count() == before
            return
        assert r.status_code == 201, r.text
        out = r.json()
        occurred = datetime.fromisoformat(out["occurred_at"])
        recorded = datetime.fromisoformat(out["recorded_at"])
        assert occurred <= recorded
        self.accepted.append((occurred, out["id"], action))
        if offset is None or offset >= 0:
            # An undated (or barely future) event is the newest: it decides the state now.
            assert self._state() == {"grant": "granted", "withdraw": "withdrawn",
                                     "refuse": "refused"}[action]

    def _state(self) -> str | None:
        r = self.client.get("/v1/consents/state", headers=self.headers,
                            params={"brand_id": "brand-a", "subject": self.subject})
        if r.status_code == 404:
            return None
        return str(r.json()["states"].get("model_training"))

    @invariant()
    def state_is_the_latest_accepted_event(self) -> None:
        if not self.accepted:
            return
        _, _, action = max(self.accepted)
        assert self._state() == {"grant": "granted", "withdraw": "withdrawn",
                                 "refuse": "refused"}[action]


@pytest.mark.integration
def test_consent_timeline_cannot_be_gamed(client: TestClient, auth: Auth, db: Database) -> None:
    ConsentTimeline.client = client
    ConsentTimeline.headers = auth("brand:brand-a")
    ConsentTimeline.db = db
    run_state_machine_as_test(ConsentTimeline, settings=settings(
        max_examples=25, stateful_step_count=8, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))


@pytest.mark.integration
def test_future_grant_cannot_outrank_a_withdrawal(client: TestClient, auth: Auth) -> None:
    h = auth("brand:brand-a")
    body = {"brand_id": "brand-a", "subject": "futuregrant00001", "purpose": "model_training",
            "notice_version": "2026-01"}
    r = client.post("/v1/consents", json={**body, "action": "grant",
                                          "occurred_at": "9999-12-31T00:00:00Z"}, headers=h)
    assert r.status_code == 422 and "occurred_at" in r.text
    assert client.post("/v1/consents", json={**body, "action": "grant"},
                       headers=h).status_code == 201
    assert client.post("/v1/consents", json={**body, "action": "withdraw"},
                       headers=h).status_code == 201
    state = client.get("/v1/consents/state", headers=h,
                       params={"brand_id": "brand-a", "subject": "futuregrant00001"}).json()
    assert state["states"] == {"model_training": "withdrawn"}


@pytest.mark.integration
def test_a_backdated_withdrawal_never_rewrites_an_issued_period(
        client: TestClient, auth: Auth, db: Database) -> None:
    h = auth("brand:brand-a")
    now = utcnow()
    closed = parse_period(f"{now.year - 1}")  # last year: over and done
    inside = closed.start + timedelta(days=100)
    body = {"brand_id": "brand-a", "subject": "backdated0000001", "purpose": "model_training",
            "notice_version": "2026-01"}
    r = client.post("/v1/consents", json={**body, "action": "grant",
                                          "occurred_at": inside.isoformat()}, headers=h)
    assert r.status_code == 201
    issue_report(db, closed.label, fmt="json", lang="en", actor="dpo#1")
    with db.reading() as s:
        issued = build_period_report(s, closed)
    late = (inside + timedelta(days=10)).isoformat()
    assert client.post("/v1/consents", json={**body, "action": "withdraw", "occurred_at": late},
                       headers=h).status_code == 201
    with db.reading() as s:
        again = build_period_report(s, closed)
        current = build_period_report(s, parse_period(f"{now.year}"))
    assert again["consent_coverage"]["coverage"] == issued["consent_coverage"]["coverage"]
    assert again["consent_coverage"]["withdrawals"] == issued["consent_coverage"]["withdrawals"]
    assert again["consent_coverage"]["corrections"]["after_issue"] == [
        {"brand_id": "brand-a", "purpose": "model_training", "action": "withdraw", "events": 1}]
    html = render(again, "html").decode()
    assert "Corrections recorded after this period was issued" in html
    # Both were recorded this year though dated last year: late for an earlier period.
    assert current["consent_coverage"]["corrections"]["late_for_earlier_periods"] == [
        {"brand_id": "brand-a", "purpose": "model_training", "action": a, "events": 1}
        for a in ("grant", "withdraw")]
    # The state itself follows the dates: the withdrawal counts from when it happened.
    state = client.get("/v1/consents/state", headers=h,
                       params={"brand_id": "brand-a", "subject": "backdated0000001"}).json()
    assert state["states"] == {"model_training": "withdrawn"}
