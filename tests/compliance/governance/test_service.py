"""Governance records: runs refused outside the agreement or without an approved assessment,
assessments approved by a second principal, cross-border bands counted per year, incidents
with their deadlines and a notice in zh and en."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.governance.errors import RunRefused, SecondPersonRequired
from compliance.governance.service import (
    GovernanceService,
    check_run_or_raise,
    notification_draft,
)
from compliance.policy.governance import load_governance
from compliance.policy.loader import load_policies
from compliance.tokens.service import TokenService

pytestmark = pytest.mark.integration
POLICIES = load_policies()
GOV = load_governance(POLICIES)


def svc(session: object) -> GovernanceService:
    return GovernanceService(session, POLICIES, GOV)  # type: ignore[arg-type]


def people(db: Database) -> tuple[int, int]:
    with db.unit_of_work() as s:
        t = TokenService(s)
        return (t.principal("author@dpo", kind="person", actor="test").id,
                t.principal("second@dpo", kind="person", actor="test").id)


def test_non_party_brand_is_refused_and_audited(db: Database) -> None:
    with pytest.raises(RunRefused) as exc:
        check_run_or_raise(db, POLICIES, GOV, kind="training", run_id="r1",
                           brands=["lumen-tea", "stranger-shop"], purpose="model_training")
    assert exc.value.rule_id == "alliance.art20.party"
    with db.reading() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "governance.refused")).one()
    assert ev.rule_id == "alliance.art20.party" and ev.data["agreement_version"] == "2026.1"


def test_party_within_agreement_passes(db: Database) -> None:
    check_run_or_raise(db, POLICIES, GOV, kind="training", run_id="r1",
                       brands=["lumen-tea", "jade-beauty"], purpose="model_training",
                       categories=["purchase_history", "city"])


def test_risky_run_needs_an_approved_unexpired_assessment(db: Database) -> None:
    author, second = people(db)
    kw = {"kind": "training", "run_id": "r2", "brands": ["lumen-tea"],
          "purpose": "personalized_recommendation", "categories": ["purchase_history"]}
    with pytest.raises(RunRefused) as exc:
        check_run_or_raise(db, POLICIES, GOV, **kw)
    assert exc.value.rule_id == "pia.art55_2.automated_decision"
    with db.unit_of_work() as s:
        draft = svc(s).draft_assessment(
            "personalized_recommendation", author="dpo#1", author_id=author,
            facts={"secure_aggregation": True, "dp": {"epsilon": 3.0, "delta": 1e-5}})
        assert draft.content["recipients"] and draft.content["safeguards"]["dp"]
        assert draft.content["agreement"]["version"] == GOV.agreement.version
        draft_id = draft.id
    with pytest.raises(RunRefused):  # a draft is not an approval
        check_run_or_raise(db, POLICIES, GOV, **kw)
    with db.unit_of_work() as s, pytest.raises(SecondPersonRequired):
        svc(s).approve_assessment(draft_id, actor="dpo#2", principal_id=author)
    with db.unit_of_work() as s:
        row = svc(s).approve_assessment(draft_id, actor="dpo#3", principal_id=second)
        assert row.keep_until - row.created_at >= timedelta(days=1095)
    check_run_or_raise(db, POLICIES, GOV, **kw)
    later = datetime.now(UTC) + timedelta(days=GOV.assessments.valid_days + 1)
    with pytest.raises(RunRefused):  # expired
        check_run_or_raise(db, POLICIES, GOV, **kw, on=later)


def test_transfer_past_its_band_needs_the_mechanism(db: Database) -> None:
    on = datetime(2026, 6, 1, tzinfo=UTC)
    with db.unit_of_work() as s:
        t = svc(s).record_transfer("lumen-tea", recipient="HQ", country="sg",
                                   individuals=90_000, actor="dpo#1", on=on)
        assert t.rule_id == "cross_border.provisions_art5_6.exempt"
    with db.unit_of_work() as s, pytest.raises(RunRefused) as exc:
        svc(s).record_transfer("lumen-tea", recipient="HQ", country="SG",
                               individuals=20_000, actor="dpo#1", on=on)
    assert exc.value.rule_id == "cross_border.provisions_art8.over_100k"
    with db.unit_of_work() as s:  # another year starts from zero
        svc(s).record_transfer("lumen-tea", recipient="HQ", country="SG", individuals=20_000,
                               actor="dpo#1", on=on.replace(year=2027))
        svc(s).add_mechanism("lumen-tea", "standard_contract", "SC-2026-001",
                             date(2027, 12, 31), actor="dpo#1")
    with db.unit_of_work() as s:
        t = svc(s).record_transfer("lumen-tea", recipient="HQ", country="SG",
                                   individuals=20_000, sensitive=5, actor="dpo#1", on=on)
        assert t.mechanism_id is not None and s.get(type(t), t.id) is not None
        assert svc(s).year_totals("lumen-tea", 2026) == (110_000, 5)
    with db.unit_of_work() as s, pytest.raises(RunRefused) as exc:  # contract is not enough
        svc(s).record_transfer("lumen-tea", recipient="HQ", country="SG",
                               individuals=900_000, actor="dpo#1", on=on)
    assert exc.value.rule_id == "cross_border.provisions_art7_2.over_1m"


def test_incident_deadlines_and_notice(db: Database) -> None:
    found = datetime(2026, 12, 1, 8, tzinfo=UTC)
    with db.unit_of_work() as s:
        inc = svc(s).open_incident(
            source="manual", summary="export left on a shared drive",
            details={"categories": "purchase history", "causes": "misconfigured share",
                     "possible_harm": "profiling", "remedial_measures": "share removed",
                     "contact": "dpo@alliance.example"},
            affected={"lumen-tea": {"pipl": 12}, "harbour-books": {"gdpr": 3}},
            actor="dpo#1", discovered_at=found)
        assert set(inc.deadlines) == {"pipl", "gdpr"}
        assert inc.deadlines["gdpr"]["authority_by"] == (found + timedelta(hours=72)).isoformat()
        zh, en = notification_draft(inc, "zh"), notification_draft(inc, "en")
    assert "可能造成的危害: profiling" in zh and "受影响的个人数量: 15" in zh
    assert "Possible harm: profiling" in en and "incident.gdpr_art33.notify" in en


def test_wire_violation_and_key_compromise_open_one_incident_each(db: Database) -> None:
    with db.unit_of_work() as s:
        first = svc(s).incident_for_wire_violation(run_id="r9", violation="node 3: rule x",
                                                   actor="coordinator")
        again = svc(s).incident_for_wire_violation(run_id="r9", violation="node 3: rule x",
                                                   actor="coordinator")
        key = svc(s).incident_for_key_compromise(master_version=2, rewrapped=5,
                                                 reason="laptop stolen", actor="cli")
        assert first.id == again.id and first.source == "wire_audit"
        assert key.source == "key_compromise" and "laptop stolen" in key.details["causes"]
        assert set(first.deadlines) == {"pipl", "gdpr", "ccpa"}
        assert [i.source for i in svc(s).incidents()] == ["wire_audit", "key_compromise"]
