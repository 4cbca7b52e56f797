"""Scores the compliance-audit checklist (policies/audit_checklist.yaml) against a report's
metrics. Pure: the items are data, the metrics are computed elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from compliance.policy.schemas import ChecklistItem, Expectation

PASS, FAIL, REVIEW, NOT_APPLICABLE = "pass", "fail", "review", "not_applicable"


def meets(observed: bool | int | float, expect: Expectation) -> bool:
    if expect.equals is not None and observed != expect.equals:
        return False
    if expect.min is not None and observed < expect.min:
        return False
    return expect.max is None or observed <= expect.max


def score(items: Iterable[ChecklistItem], metrics: Mapping[str, bool | int | float | None],
          jurisdictions: Iterable[str]) -> list[dict[str, Any]]:
    """One row per item. A metric that is None (nothing of that kind happened in the period)
    is not applicable; a metric the report does not compute is an error in the checklist."""
    laws = sorted(set(jurisdictions))
    rows = []
    for item in items:
        if item.metric not in metrics:
            raise KeyError(f"checklist item '{item.key}' names unknown metric '{item.metric}'")
        observed = metrics[item.metric]
        if observed is None:
            status = NOT_APPLICABLE
        elif meets(observed, item.expect):
            status = PASS
        else:
            status = FAIL if item.severity == "fail" else REVIEW
        rows.append({"key": item.key, "title_en": item.title_en, "title_zh": item.title_zh,
                     "status": status, "metric": item.metric, "observed": observed,
                     "expected": item.expect.model_dump(exclude_none=True),
                     "evidence": item.evidence,
                     "refs": {law: ref for law, ref in item.refs.items()
                              if not laws or law in laws}})
    return rows


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out = {PASS: 0, FAIL: 0, REVIEW: 0, NOT_APPLICABLE: 0}
    for r in rows:
        out[r["status"]] += 1
    return out
