"""The alliance's governance rules as data: the alliance agreement (PIPL Art. 20-21; GDPR
Art. 26/28), impact-assessment triggers (PIPL Art. 55-56; GDPR Art. 35), cross-border bands
(PIPL Art. 38-40; CAC Provisions on Cross-Border Data Flows, 2024) with the duties counted
from records (PIPL Art. 52, 54) and incident deadlines (PIPL Art. 57; GDPR Art. 33-34; CCPA
1798.82). The shapes and the decisions over them are pure; `load_governance` reads the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, model_validator

from compliance.errors import InputError
from compliance.policy.loader import parse_policy_text, policy_dir
from compliance.policy.schemas import Condition, PolicySet, _Frozen

M = TypeVar("M", bound=_Frozen)
RuleKey = Field(pattern=r"^[a-z0-9_.\-]+$")


# --- the alliance agreement ------------------------------------------------------------

class Party(_Frozen):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    role: Literal["joint_handler", "entrusted_processor"]
    purposes: tuple[str, ...]
    categories: tuple[str, ...]


class AgreementRetention(_Frozen):
    after_days: int = Field(ge=1)
    at_end: Literal["delete", "return"]
    source: str = Field(min_length=1)


class AgreementRule(_Frozen):
    key: str = RuleKey
    priority: int
    check: Literal["in_force", "party", "purpose", "categories"]
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class JoinKey(_Frozen):
    """The key two brands may match customers on in a private set intersection (PIPL Art. 23
    provision to another handler, with separate consent): the data category of the column,
    how both normalize it, and which parties may receive the intersection itself rather
    than only its noisy size."""

    category: str = Field(min_length=1)
    normalize: Literal["e164"]
    default_region: str = Field(min_length=2, max_length=2)
    exact_to: tuple[str, ...] = ()
    source: str = Field(min_length=1)


class Agreement(_Frozen):
    key: str = RuleKey
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    effective: date
    expires: date
    source: str = Field(min_length=1)
    retention: AgreementRetention
    parties: tuple[Party, ...]
    rules: tuple[AgreementRule, ...]
    join_key: JoinKey | None = None

    @model_validator(mode="after")
    def _parties_unique(self) -> Agreement:
        ids = [p.id for p in self.parties]
        if len(set(ids)) != len(ids):
            raise ValueError("party ids repeat")
        return self

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)


@dataclass(frozen=True)
class Refusal:
    """Why a run may not go ahead: the rule that refused it, its article, in words."""

    rule_id: str
    source: str
    explanation: str


def check_agreement(agreement: Agreement, *, parties: Iterable[str], purpose: str,
                    categories: Iterable[str] = (), on: date) -> Refusal | None:
    """The first agreement rule (by priority) that the run breaks, or None. `parties` are
    the brands taking part (the coordinator is checked as the party `coordinator`)."""
    ids = list(parties)
    cats = set(categories)
    for rule in sorted(agreement.rules, key=lambda r: -r.priority):
        bad: list[str] = []
        if rule.check == "in_force":
            bad = [] if agreement.effective <= on <= agreement.expires else [on.isoformat()]
        elif rule.check == "party":
            bad = [p for p in ids if agreement.party(p) is None]
        elif rule.check == "purpose":
            bad = [p for p in ids if (x := agreement.party(p)) and purpose not in x.purposes]
        elif rule.check == "categories":
            bad = [f"{p}: {', '.join(sorted(cats - set(x.categories)))}" for p in ids
                   if (x := agreement.party(p)) and cats - set(x.categories)]
        if bad:
            return Refusal(rule.key, rule.source,
                           f"{rule.explanation} ({'; '.join(bad)}; agreement "
                           f"{agreement.key} v{agreement.version})")
    return None


# --- impact assessments ------------------------------------------------------------------

class AssessmentRule(_Frozen):
    key: str = RuleKey
    priority: int
    match: Condition
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class AssessmentPolicy(_Frozen):
    valid_days: int = Field(ge=1, le=3660)
    retention_days: int = Field(ge=1095, description="PIPL Art. 56: at least three years")
    source: str = Field(min_length=1)
    rules: tuple[AssessmentRule, ...]


def assessment_triggers(policy: AssessmentPolicy, *, purpose: str, sensitive: bool
                        ) -> list[AssessmentRule]:
    """Every rule a processing of this purpose (with or without sensitive data) matches:
    each is a kind of risky processing that needs an approved assessment (Art. 55)."""
    out = []
    for rule in sorted(policy.rules, key=lambda r: -r.priority):
        m = rule.match
        if m.purpose_in is not None and purpose not in m.purpose_in:
            continue
        if m.sensitive_data is not None and m.sensitive_data != sensitive:
            continue
        out.append(rule)
    return out


# --- cross-border bands and duties ---------------------------------------------------------

class BandWhen(_Frozen):
    """All given must hold. Counts are individuals in the calendar year, this transfer
    included; `sensitive_over` counts sensitive personal information only."""

    ciio: bool | None = None
    individuals_over: int | None = Field(None, ge=0)
    sensitive_over: int | None = Field(None, ge=0)


Mechanism = Literal["standard_contract", "certification", "security_assessment"]


class BandRule(_Frozen):
    key: str = RuleKey
    priority: int
    when: BandWhen
    mechanisms: tuple[Mechanism, ...]
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class DutyRule(_Frozen):
    key: str = RuleKey
    individuals_over: int = Field(ge=0)
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class CrossBorderPolicy(_Frozen):
    source: str = Field(min_length=1)
    rules: tuple[BandRule, ...]
    duties: tuple[DutyRule, ...] = ()


def transfer_band(policy: CrossBorderPolicy, *, individuals: int, sensitive: int,
                  ciio: bool = False) -> BandRule | None:
    """The band a handler's yearly totals fall in (Provisions Art. 5, 7, 8): its mechanisms
    are the ones any of which must be on record. None: no band holds (deny by default)."""
    for rule in sorted(policy.rules, key=lambda r: -r.priority):
        w = rule.when
        if w.ciio is not None and w.ciio != ciio:
            continue
        if w.individuals_over is not None and individuals <= w.individuals_over:
            continue
        if w.sensitive_over is not None and sensitive <= w.sensitive_over:
            continue
        return rule
    return None


def duties_due(policy: CrossBorderPolicy, individuals: int) -> list[DutyRule]:
    """The duties a handler processing `individuals` people's information has."""
    return [d for d in policy.duties if individuals > d.individuals_over]


# --- incidents ----------------------------------------------------------------------------

class IncidentRule(_Frozen):
    key: str = RuleKey
    jurisdiction: str
    authority_hours: int = Field(ge=1)
    subjects_hours: int = Field(ge=1)
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class IncidentPolicy(_Frozen):
    source: str = Field(min_length=1)
    content: tuple[Literal["categories", "causes", "possible_harm", "remedial_measures",
                           "contact"], ...]
    rules: tuple[IncidentRule, ...]

    def rule(self, jurisdiction: str) -> IncidentRule | None:
        return next((r for r in self.rules if r.jurisdiction == jurisdiction), None)


# --- loading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Governance:
    agreement: Agreement
    assessments: AssessmentPolicy
    cross_border: CrossBorderPolicy
    incidents: IncidentPolicy


def _read(root: Path, name: str, model: type[M]) -> M:
    path = root / name
    if not path.is_file():
        raise InputError(f"policy file not found: {path}")
    return parse_policy_text(path.read_text(encoding="utf-8"), model, str(path))


def load_governance(policies: PolicySet, directory: Path | None = None) -> Governance:
    """Load the four governance files and check their references against `policies`."""
    root = directory or policy_dir()
    agreement = _read(root, "alliance_agreement.yaml", Agreement)
    assessments = _read(root, "impact_assessment.yaml", AssessmentPolicy)
    cross_border = _read(root, "cross_border.yaml", CrossBorderPolicy)
    incidents = _read(root, "incidents.yaml", IncidentPolicy)
    file = str(root / "alliance_agreement.yaml")
    for p in agreement.parties:
        for key in p.purposes:
            if key not in policies.purposes:
                raise InputError(f"party '{p.id}' names unknown purpose '{key}'", file=file)
        for key in p.categories:
            if key not in policies.categories:
                raise InputError(f"party '{p.id}' names unknown category '{key}'", file=file)
    for r in assessments.rules:
        for key in r.match.purpose_in or ():
            if key not in policies.purposes:
                raise InputError(f"rule '{r.key}' names unknown purpose '{key}'",
                                 file=str(root / "impact_assessment.yaml"))
    for ir in incidents.rules:
        if ir.jurisdiction not in policies.jurisdictions:
            raise InputError(f"rule '{ir.key}' names unknown jurisdiction",
                             file=str(root / "incidents.yaml"))
    return Governance(agreement, assessments, cross_border, incidents)
