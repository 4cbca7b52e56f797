from __future__ import annotations

import pytest

from compliance.errors import InputError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import ConsentState, DecisionRequest, SubjectFacts

pytestmark = [pytest.mark.unit, pytest.mark.xdist_group("policy-engine")]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policies())


def req(purpose: str = "model_training", consent: ConsentState = ConsentState.GRANTED,
        minor: bool = False, guardian: bool = False, categories: tuple[str, ...] = (
            "purchase_history",), jurisdiction: str = "pipl") -> DecisionRequest:
    return DecisionRequest(brand_id="b", purpose=purpose, jurisdiction=jurisdiction,
                           consent=consent, data_categories=frozenset(categories),
                           subject=SubjectFacts(minor, guardian))


def test_granted_consent_allows(engine: PolicyEngine) -> None:
    d = engine.decide(req())
    assert d.allowed and d.rule_id == "pipl.art13.consent"


@pytest.mark.parametrize("state,rule", [
    (ConsentState.WITHDRAWN, "pipl.art15.withdrawn"),
    (ConsentState.REFUSED, "pipl.art13.no_consent"),
    (ConsentState.NONE, "pipl.art13.no_consent"),
])
def test_missing_or_withdrawn_consent_denies(engine: PolicyEngine, state: ConsentState,
                                             rule: str) -> None:
    d = engine.decide(req(consent=state))
    assert not d.allowed and d.rule_id == rule and d.source.startswith("PIPL")


def test_minor_needs_guardian(engine: PolicyEngine) -> None:
    assert engine.decide(req(minor=True)).rule_id == "pipl.art31.minor_without_guardian"
    assert engine.decide(req(minor=True, guardian=True)).allowed


def test_cross_brand_sharing_needs_separate_consent(engine: PolicyEngine) -> None:
    assert not engine.decide(req("cross_brand_sharing")).allowed
    assert engine.decide(req("cross_brand_sharing", ConsentState.SEPARATE)).allowed


@pytest.mark.parametrize("purpose,categories,rule", [
    ("public_disclosure", ("name",), "pipl.art25.separate_consent"),
    ("cross_border_transfer", ("purchase_history", "email"), "pipl.art39.separate_consent"),
])
def test_disclosure_and_cross_border_need_separate_consent(
        engine: PolicyEngine, purpose: str, categories: tuple[str, ...], rule: str) -> None:
    general = engine.decide(req(purpose, categories=categories))
    assert not general.allowed and general.rule_id == rule
    assert engine.decide(req(purpose, ConsentState.SEPARATE, categories=categories)).allowed
    assert not engine.decide(req(purpose, ConsentState.SEPARATE, categories=categories,
                                 minor=True)).allowed


def test_minimum_necessary_denies_extra_categories(engine: PolicyEngine) -> None:
    d = engine.decide(req(categories=("purchase_history", "phone")))
    assert not d.allowed and d.rule_id.endswith("minimum_necessary") and "phone" in d.explanation


def test_sensitive_category_needs_separate_consent(engine: PolicyEngine) -> None:
    d = engine.decide(req("order_fulfilment", ConsentState.GRANTED,
                          categories=("name", "phone", "delivery_address")))
    assert d.allowed and d.rule_id == "pipl.art13.contract"


def test_gdpr_minor_age_differs(engine: PolicyEngine) -> None:
    assert engine.minor_age("gdpr") == 16 and engine.minor_age("pipl") == 14
    assert engine.decide(req(jurisdiction="gdpr", consent=ConsentState.WITHDRAWN)).rule_id == \
        "gdpr.art7.withdrawn"


def test_unknown_inputs_are_named(engine: PolicyEngine) -> None:
    """By field, not by value: the message may reach an API error body (issue 19)."""
    with pytest.raises(InputError, match=r"^purpose: unknown purpose \(known: ") as info:
        engine.decide(req("selling"))
    assert "selling" not in str(info.value)
    with pytest.raises(InputError, match=r"^jurisdiction: unknown jurisdiction \(known: "):
        engine.decide(req(jurisdiction="xx"))
    with pytest.raises(InputError, match="unknown data categories: dna"):
        engine.decide(req(categories=("dna",)))
