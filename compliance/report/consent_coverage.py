"""Consent coverage for the DPO: by purpose and brand, separate consent where the law needs
it, withdrawals in the period, their effect on training runs, and the trend."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.consent.service import ConsentService
from compliance.consent.state import derive_state, withdrawals
from compliance.policy.schemas import ConsentState, PolicySet
from compliance.report.evidence import Window, evidence
from compliance.report.period import bucket_label
from compliance.subjects.models import Brand, Subject

CONSENT_STATES = [s.value for s in ConsentState if s is not ConsentState.NONE]
_VALID = (ConsentState.GRANTED.value, ConsentState.SEPARATE.value)
CONSENT_ACTIONS = ("consent.imported", "consent.grant", "consent.withdraw", "consent.refuse")


@dataclass(frozen=True)
class RunRef:
    """What the consent section needs of a training run."""
    run_id: str
    model: str
    purpose: str
    consent_as_of: datetime
    brands: tuple[str, ...]


def separate_purposes(policies: PolicySet, jurisdiction: str) -> list[str]:
    """Purposes that need separate consent in a jurisdiction: named ones, and any purpose
    that touches a sensitive data category."""
    named = set(policies.jurisdictions[jurisdiction].separate_consent_purposes)
    for p in policies.purposes.values():
        cats = (*p.required_categories, *p.optional_categories)
        if p.lawful_basis == "consent" and any(policies.categories[c].sensitive for c in cats):
            named.add(p.key)
    return sorted(named)


def unenforced_separate(policies: PolicySet) -> list[tuple[str, str]]:
    """(jurisdiction, purpose) pairs that need separate consent but have no deny rule that
    applies to them unless consent is separate: a policy edit that would let them through."""
    out = []
    for key, j in sorted(policies.jurisdictions.items()):
        for purpose in separate_purposes(policies, key):
            p = policies.purposes[purpose]
            sensitive = any(policies.categories[c].sensitive
                            for c in (*p.required_categories, *p.optional_categories))
            if not any(r.decision == "deny" and r.unless is not None
                       and r.unless.consent_in == (ConsentState.SEPARATE,)
                       and ((r.match.purpose_in and purpose in r.match.purpose_in)
                            or (r.match.sensitive_data and sensitive))
                       for r in j.rules):
                out.append((key, purpose))
    return out


def withdrawn_rules(policies: PolicySet) -> set[str]:
    """Rules that deny because consent was withdrawn (read from the policies, not named)."""
    return {r.key for j in policies.jurisdictions.values() for r in j.rules
            if r.decision == "deny" and r.match.consent_in
            and ConsentState.WITHDRAWN in r.match.consent_in}


def excluded_by_rules(session: Session, rules: set[str], window: Window) -> Counter[str]:
    """Gate decisions per run that excluded a subject under one of `rules`."""
    if not rules:
        return Counter()
    run = AuditEvent.data["run_id"].as_string()
    return Counter({str(r): int(n) for r, n in session.execute(
        select(run, func.count()).where(
            AuditEvent.action == "gate.decision", AuditEvent.rule_id.in_(rules),
            window.clause(AuditEvent.occurred_at)).group_by(run))})


def _counts(c: Counter[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [{"brand_id": b, "purpose": p, "action": a, "events": n}
            for (b, p, a), n in sorted(c.items()) if n]


def consent_section(session: Session, policies: PolicySet, window: Window, as_of: datetime,
                    runs: Sequence[RunRef], *, weekly: bool = False,
                    known_at: datetime | None = None) -> dict[str, Any]:
    """With `known_at` (the period was issued then), only events recorded by then count;
    events recorded later but dated inside the window are listed under `corrections`, and
    events recorded inside the window but dated before it are listed as `late`."""
    brands = dict(session.execute(select(Brand.id, Brand.jurisdiction)).all())
    subjects = {b: int(n) for b, n in session.execute(
        select(Subject.brand_id, func.count()).where(Subject.erased_at.is_(None))
        .group_by(Subject.brand_id))}
    states: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    spans: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    trend: dict[str, Counter[str]] = defaultdict(Counter)
    withdrawn_in_window: Counter[tuple[str, str]] = Counter()
    corrections: Counter[tuple[str, str, str]] = Counter()
    late: Counter[tuple[str, str, str]] = Counter()
    for (brand, _, purpose), every in ConsentService(session).facts_by_subject(as_of).items():
        facts = []
        for f in every:
            if known_at is not None and f.recorded_at is not None and f.recorded_at > known_at:
                corrections[(brand, purpose, f.action.value)] += window.contains(f.occurred_at)
                continue
            facts.append(f)
            if (f.recorded_at is not None and window.contains(f.recorded_at)
                    and window.start is not None and f.occurred_at < window.start):
                late[(brand, purpose, f.action.value)] += 1
        if not facts:
            continue
        states[(brand, purpose)][derive_state(facts).value] += 1
        for f in facts:
            if window.contains(f.occurred_at):
                trend[bucket_label(f.occurred_at, weekly)][f.action.value] += 1
                if f.action.value == "withdraw":
                    withdrawn_in_window[(brand, purpose)] += 1
        for w in withdrawals(facts):
            spans[(brand, purpose)].append((w.granted_at.timestamp(), w.withdrawn_at.timestamp()))

    coverage = []
    for (brand, purpose), c in sorted(states.items()):
        total = subjects.get(brand, 0)
        valid = sum(c[s] for s in _VALID)
        coverage.append({"brand_id": brand, "purpose": purpose, "subjects": total,
                         **{s: c[s] for s in CONSENT_STATES},
                         "no_record": max(total - sum(c.values()), 0),
                         "coverage": round(valid / total, 4) if total else None})
    separate = []
    for brand, jurisdiction in sorted(brands.items()):
        for purpose in separate_purposes(policies, jurisdiction):
            c = states.get((brand, purpose), Counter())
            separate.append({"brand_id": brand, "purpose": purpose, "jurisdiction": jurisdiction,
                             "separate": c[ConsentState.SEPARATE.value],
                             "granted_not_separate": c[ConsentState.GRANTED.value],
                             "subjects": subjects.get(brand, 0)})

    arrays = {k: np.array(v, dtype=np.float64).reshape(-1, 2) for k, v in spans.items()}
    excluded = excluded_by_rules(session, withdrawn_rules(policies), window)
    effects, flagged = [], []
    for run in runs:
        t = run.consent_as_of.timestamp()
        later = before = 0
        for brand in run.brands:
            a = arrays.get((brand, run.purpose))
            if a is None:
                continue
            later += int(((a[:, 0] <= t) & (t < a[:, 1])).sum())
            before += int((a[:, 1] <= t).sum())
        effects.append({"run_id": run.run_id, "withdrawn_before_snapshot": before,
                        "excluded_as_withdrawn": excluded.get(run.run_id, 0),
                        "withdrawn_after_snapshot": later})
        if later:
            flagged.append({"run_id": run.run_id, "model": run.model, "purpose": run.purpose,
                            "consent_as_of": run.consent_as_of.isoformat(),
                            "subjects_withdrawn_since": later})
    return {
        "coverage": coverage,
        "separate_consent": separate,
        "withdrawals": {
            "in_period": sum(withdrawn_in_window.values()),
            "by_brand_purpose": [{"brand_id": b, "purpose": p, "withdrawals": n}
                                 for (b, p), n in sorted(withdrawn_in_window.items())],
            "effect_on_runs": effects,
        },
        "models_trained_on_withdrawn": flagged,
        "corrections": {
            "known_at": known_at.isoformat() if known_at else None,
            "after_issue": _counts(corrections),
            "late_for_earlier_periods": _counts(late),
        },
        "trend": [{"bucket": k, **{a: v[a] for a in ("grant", "withdraw", "refuse")}}
                  for k, v in sorted(trend.items())],
        "evidence": evidence(session, CONSENT_ACTIONS, window),
    }
