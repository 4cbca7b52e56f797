"""The governance policies as data: the alliance agreement, impact-assessment triggers,
cross-border bands (figures checked against the CAC Provisions of 2024-03-22) and duties."""

from __future__ import annotations

from datetime import date

import pytest

from compliance.policy.governance import (
    Governance,
    assessment_triggers,
    check_agreement,
    duties_due,
    load_governance,
    transfer_band,
)
from compliance.policy.loader import load_policies

pytestmark = pytest.mark.unit
ON = date(2026, 12, 1)


@pytest.fixture(scope="module")
def gov() -> Governance:
    return load_governance(load_policies())


def refused(gov: Governance, **kw: object) -> str | None:
    args: dict = {"parties": ["lumen-tea", "coordinator"], "purpose": "model_training",
                  "categories": ["purchase_history"], "on": ON, **kw}
    r = check_agreement(gov.agreement, **args)
    return r.rule_id if r else None


def test_agreement_has_version_parties_and_roles(gov: Governance) -> None:
    ag = gov.agreement
    assert ag.version and ag.retention.at_end in ("delete", "return")
    roles = {p.id: p.role for p in ag.parties}
    assert roles["coordinator"] == "entrusted_processor"
    assert roles["lumen-tea"] == "joint_handler"


@pytest.mark.parametrize("kw,rule", [
    ({}, None),
    ({"parties": ["lumen-tea", "stranger-shop"]}, "alliance.art20.party"),
    ({"purpose": "marketing"}, "alliance.art20.purpose"),
    ({"categories": ["purchase_history", "preferences"]}, "alliance.art20.categories"),
    ({"on": date(2030, 1, 1)}, "alliance.art20.in_force"),
    ({"on": date(2025, 6, 1)}, "alliance.art20.in_force"),
    ({"parties": ["lumen-tea"], "purpose": "personalized_recommendation",
      "categories": ["preferences"]}, None),
])
def test_agreement_refuses_outside_it(gov: Governance, kw: dict, rule: str | None) -> None:
    assert refused(gov, **kw) == rule


@pytest.mark.parametrize("purpose,sensitive,rules", [
    ("model_training", False, []),
    ("model_training", True, ["pia.art55_1.sensitive"]),
    ("personalized_recommendation", False, ["pia.art55_2.automated_decision"]),
    ("marketing", False, ["pia.art55_2.automated_decision"]),
    ("cross_brand_sharing", False, ["pia.art55_3.provide_to_handler"]),
    ("public_disclosure", False, ["pia.art55_3.public_disclosure"]),
    ("cross_border_transfer", True, ["pia.art55_1.sensitive", "pia.art55_4.cross_border"]),
])
def test_assessment_triggers(gov: Governance, purpose: str, sensitive: bool,
                             rules: list[str]) -> None:
    got = [r.key for r in assessment_triggers(gov.assessments, purpose=purpose,
                                              sensitive=sensitive)]
    assert got == rules


def test_assessments_are_kept_three_years(gov: Governance) -> None:
    assert gov.assessments.retention_days >= 3 * 365


@pytest.mark.parametrize("individuals,sensitive,ciio,rule,mechanisms", [
    (99_999, 0, False, "cross_border.provisions_art5_6.exempt", ()),
    (100_000, 0, False, "cross_border.provisions_art8.over_100k",
     ("standard_contract", "certification", "security_assessment")),
    (1_000_000, 0, False, "cross_border.provisions_art8.over_100k",
     ("standard_contract", "certification", "security_assessment")),
    (1_000_001, 0, False, "cross_border.provisions_art7_2.over_1m", ("security_assessment",)),
    (50, 1, False, "cross_border.provisions_art8.sensitive",
     ("standard_contract", "certification", "security_assessment")),
    (20_000, 10_000, False, "cross_border.provisions_art8.sensitive",
     ("standard_contract", "certification", "security_assessment")),
    (20_000, 10_001, False, "cross_border.provisions_art7_2.sensitive_over_10k",
     ("security_assessment",)),
    (1, 0, True, "cross_border.provisions_art7_1.ciio", ("security_assessment",)),
])
def test_cross_border_bands_follow_the_provisions(gov: Governance, individuals: int,
                                                  sensitive: int, ciio: bool, rule: str,
                                                  mechanisms: tuple[str, ...]) -> None:
    """Provisions Art. 5(6): under 100,000 exempt; Art. 8: 100,000-1,000,000 or under 10,000
    sensitive, a standard contract or certification; Art. 7: more than 1,000,000, more than
    10,000 sensitive, or a CIIO, a security assessment."""
    band = transfer_band(gov.cross_border, individuals=individuals, sensitive=sensitive,
                         ciio=ciio)
    assert band is not None and band.key == rule and band.mechanisms == mechanisms
    assert "Provisions Art." in band.source


@pytest.mark.parametrize("individuals,duties", [
    (1_000_000, []),
    (1_000_001, ["duty.pipl_art52.protection_officer"]),
    (10_000_001, ["duty.pipl_art52.protection_officer",
                  "duty.audit_measures_art5.biennial_audit"]),
])
def test_duties_by_scale(gov: Governance, individuals: int, duties: list[str]) -> None:
    assert [d.key for d in duties_due(gov.cross_border, individuals)] == duties


def test_incident_deadlines_per_jurisdiction(gov: Governance) -> None:
    gdpr = gov.incidents.rule("gdpr")
    assert gdpr is not None and gdpr.authority_hours == 72 and "Art. 33" in gdpr.source
    assert {r.jurisdiction for r in gov.incidents.rules} == {"pipl", "gdpr", "ccpa"}
    assert set(gov.incidents.content) == {"categories", "causes", "possible_harm",
                                          "remedial_measures", "contact"}
