"""The privacy gate: consent and minimum necessary, before any feature exists.

Pure: data frames, a consent snapshot and the policy engine in; kept rows, dropped
columns and counts out. A subject without a registry entry has no consent on record.
`decide_subject` is the one per-subject decision: the brand's gate, the coordinator's
re-verification of it and serving (PIPL Art. 24) all ask it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from compliance.consent.state import SubjectConsent
from compliance.policy.engine import PolicyEngine
from compliance.policy.schemas import ConsentState, Decision, DecisionRequest, SubjectFacts
from federation.data.column_map import TableMap

NO_RECORD = SubjectConsent(ConsentState.NONE, False, False)


def decide_subject(engine: PolicyEngine, consent: SubjectConsent | None, *, brand_id: str,
                   purpose: str, jurisdiction: str, categories: frozenset[str]) -> Decision:
    """The policy engine's decision for one subject of a brand: their consent state for the
    purpose and their minor/guardian facts (PIPL Art. 13-14, 31; GDPR Art. 6-8) against the
    data categories the processing uses. No consent record means no consent."""
    s = consent or NO_RECORD
    return engine.decide(DecisionRequest(
        brand_id=brand_id, purpose=purpose, jurisdiction=jurisdiction, consent=s.state,
        data_categories=categories, subject=SubjectFacts(s.is_minor, s.guardian_consent)))


@dataclass(frozen=True)
class GateResult:
    kept: pd.DataFrame
    kept_keys: frozenset[str]
    dropped_columns: dict[str, str]  # column -> reason
    excluded_by_rule: dict[str, int]
    excluded_no_consent: int
    excluded_minor: int
    excluded_digest: str  # SHA-256 of the sorted excluded pseudonyms: evidence, no identifiers

    @property
    def records_used(self) -> int:
        return len(self.kept_keys)


def select_columns(table: TableMap, engine: PolicyEngine, purpose: str,
                   detected: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """Keep the key plus columns whose category the purpose allows and that do not
    identify a person; a column the PII scanner found personal data in is dropped even if
    the column map calls it harmless. Returns (kept, dropped-with-reason)."""
    allowed = engine.policies.purpose(purpose).allowed_categories
    kept, dropped = [table.key], {}
    for col, cat in table.columns.items():
        if col == table.key:
            continue
        if detected and col in detected:
            dropped[col] = f"PII detected ({detected[col]})"
        elif engine.policies.categories[cat].identifying:
            dropped[col] = f"identifying ({cat})"
        elif cat not in allowed:
            dropped[col] = f"not needed for {purpose} ({cat})"
        else:
            kept.append(col)
    return kept, dropped


def apply_gate(frame: pd.DataFrame, table: TableMap, *, snapshot: Mapping[str, SubjectConsent],
               pseudonym: Callable[[str], str], engine: PolicyEngine, brand_id: str,
               purpose: str, jurisdiction: str,
               detected: Mapping[str, str] | None = None) -> GateResult:
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"columns in the column map but not in the data: {missing}")
    columns, dropped = select_columns(table, engine, purpose, detected)
    categories = frozenset(table.columns[c] for c in columns if c != table.key)
    keys = frame[table.key].astype(str).map(pseudonym)
    decisions: dict[str, bool] = {}
    by_rule: Counter[str] = Counter()
    minors = no_consent = 0
    excluded: list[str] = []
    for key in keys.unique():
        s = snapshot.get(key, NO_RECORD)
        d = decide_subject(engine, s, brand_id=brand_id, purpose=purpose,
                           jurisdiction=jurisdiction, categories=categories)
        decisions[key] = d.allowed
        if not d.allowed:
            by_rule[d.rule_id] += 1
            excluded.append(key)
            if s.is_minor and not s.guardian_consent:
                minors += 1
            else:
                no_consent += 1
    mask = keys.map(decisions).astype(bool)
    kept = frame.loc[mask, columns].copy()
    kept[table.key] = keys[mask].to_numpy()
    digest = hashlib.sha256("\n".join(sorted(excluded)).encode()).hexdigest()
    return GateResult(kept=kept, kept_keys=frozenset(k for k, ok in decisions.items() if ok),
                      dropped_columns=dropped, excluded_by_rule=dict(by_rule),
                      excluded_no_consent=no_consent, excluded_minor=minors,
                      excluded_digest=digest)
