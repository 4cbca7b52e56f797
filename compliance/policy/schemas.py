"""Typed, frozen shapes of everything in policies/*.yaml, and of a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from compliance.errors import InputError


class ConsentState(StrEnum):
    NONE = "none"
    GRANTED = "granted"
    SEPARATE = "separate"  # 单独同意: granted as a separate, specific consent
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataCategory(_Frozen):
    key: str
    identifying: bool
    sensitive: bool
    description: str = ""


class Purpose(_Frozen):
    key: str
    description: str
    lawful_basis: Literal["consent", "contract", "legal_obligation", "legitimate_interest"]
    required_categories: tuple[str, ...]
    optional_categories: tuple[str, ...] = ()
    source: str

    @property
    def allowed_categories(self) -> frozenset[str]:
        return frozenset(self.required_categories) | frozenset(self.optional_categories)


class Condition(_Frozen):
    """All fields given must hold; an empty condition always holds."""

    purpose_in: tuple[str, ...] | None = None
    consent_in: tuple[ConsentState, ...] | None = None
    subject_is_minor: bool | None = None
    guardian_consent: bool | None = None
    sensitive_data: bool | None = None
    lawful_basis_in: tuple[str, ...] | None = None
    requester_role_in: tuple[str, ...] | None = None
    categories_any: tuple[str, ...] | None = None


class Rule(_Frozen):
    key: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    priority: int
    match: Condition
    unless: Condition | None = None
    decision: Literal["allow", "deny"]
    source: str = Field(min_length=1)
    explanation: str = Field(min_length=1)


class Jurisdiction(_Frozen):
    jurisdiction: str
    title: str
    minor_age: int = Field(ge=1, le=21)
    separate_consent_purposes: tuple[str, ...] = ()
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique_keys(self) -> Jurisdiction:
        keys = [r.key for r in self.rules]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate rule keys: {', '.join(dupes)}")
        return self


class Deadline(_Frozen):
    jurisdiction: str
    days: int = Field(ge=1, le=366)
    source: str = Field(min_length=1)


class RequestTypePolicy(_Frozen):
    """A request type that stops processing: the purposes it refuses for the subject, and
    deadlines that differ from the jurisdiction's (issue 22)."""

    type: str = Field(pattern=r"^[a-z_]+$")
    refuse: tuple[str, ...]
    days: dict[str, int] = Field(default_factory=dict)
    source: str = Field(min_length=1)


class RequestsFile(_Frozen):
    deadlines: tuple[Deadline, ...]
    types: tuple[RequestTypePolicy, ...] = ()


class RetentionRule(_Frozen):
    key: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    scope: Literal["subject", "field"]
    category: str
    purpose: str
    field: str | None = None
    after_days: int = Field(ge=1)
    action: Literal["erase", "delete"]
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _field_scope(self) -> RetentionRule:
        if self.scope == "field" and not self.field:
            raise ValueError("a field-scoped rule needs `field`")
        return self


class RetentionFile(_Frozen):
    rules: tuple[RetentionRule, ...]


class AggregatesPolicy(_Frozen):
    """policies/aggregates.yaml: privacy-budget limits and release rules for DP aggregates."""

    default_period: Literal["day", "week", "month", "quarter", "year", "total"]
    default_limit_epsilon: float = Field(gt=0)
    max_limit_epsilon: float = Field(gt=0)
    max_query_epsilon: float = Field(gt=0)
    query_delta: float = Field(gt=0, lt=1e-3)
    min_group_size: int = Field(ge=0)
    # An A/B readout is refused while any arm's (noisy) size is below this; the source
    # documents' minimum per arm (privacy.experiments).
    min_arm_size: int = Field(default=1000, ge=1)
    purpose: str
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _limits_ordered(self) -> AggregatesPolicy:
        if self.default_limit_epsilon > self.max_limit_epsilon:
            raise ValueError("default_limit_epsilon exceeds max_limit_epsilon")
        return self


class ConsentTimePolicy(_Frozen):
    """policies/consent.yaml: how far ahead of the server an event may be dated, and after
    how long an event is late (recorded as a correction, never rewriting an issued report)."""

    max_clock_skew_seconds: int = Field(default=300, ge=0, le=3600)
    late_after_seconds: int = Field(default=86400, ge=0)
    source: str = Field(default="PIPL Art. 15, 54; GDPR Art. 7", min_length=1)


class Expectation(_Frozen):
    """What a checklist metric must be to pass: exactly `equals`, or within [min, max]."""

    equals: bool | int | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Expectation:
        if self.equals is None and self.min is None and self.max is None:
            raise ValueError("an expectation needs equals, min or max")
        return self


class ChecklistItem(_Frozen):
    """One compliance-audit item: a report metric, what it must be, the law it answers."""

    key: str = Field(pattern=r"^[a-z0-9_.\-]+$")
    title_en: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    metric: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")
    expect: Expectation
    severity: Literal["fail", "review"] = "fail"
    evidence: str = Field(min_length=1, description="report section holding the evidence")
    refs: dict[Literal["pipl", "gdpr", "ccpa"], str]


class ChecklistFile(_Frozen):
    source: str = Field(min_length=1)
    items: tuple[ChecklistItem, ...]


class PurposesFile(_Frozen):
    purposes: tuple[Purpose, ...]


class CategoriesFile(_Frozen):
    categories: tuple[DataCategory, ...]


@dataclass(frozen=True)
class SubjectFacts:
    is_minor: bool = False
    guardian_consent: bool = False


@dataclass(frozen=True)
class DecisionRequest:
    brand_id: str
    purpose: str
    jurisdiction: str
    consent: ConsentState
    data_categories: frozenset[str] = field(default_factory=frozenset)
    subject: SubjectFacts = field(default_factory=SubjectFacts)
    requester: str = "system"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule_id: str
    source: str
    explanation: str


@dataclass(frozen=True)
class PolicySet:
    purposes: dict[str, Purpose]
    categories: dict[str, DataCategory]
    jurisdictions: dict[str, Jurisdiction]
    deadlines: dict[str, Deadline]
    retention: tuple[RetentionRule, ...]
    aggregates: AggregatesPolicy
    checklist: ChecklistFile
    consent_time: ConsentTimePolicy = ConsentTimePolicy()
    request_types: tuple[RequestTypePolicy, ...] = ()

    def purpose_categories(self) -> dict[str, list[str]]:
        """Each purpose's required and optional data categories (the 7-day trace's map)."""
        return {k: [*p.required_categories, *p.optional_categories]
                for k, p in self.purposes.items()}

    def purpose(self, key: str) -> Purpose:
        try:
            return self.purposes[key]
        except KeyError:
            known = ", ".join(sorted(self.purposes))
            raise InputError(f"unknown purpose (known: {known})", column="purpose") from None
