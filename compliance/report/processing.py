"""Records of processing (PIPL Art. 54 audit scope, GDPR Art. 30): for each purpose, its
lawful basis, data categories, the brands that process for it and who receives what."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from compliance.policy.schemas import PolicySet

COORDINATOR = "alliance coordinator (model updates, summed under SecAgg+)"


def processing_records(policies: PolicySet, *, consenting_brands: Mapping[str, Iterable[str]],
                       runs: Iterable[tuple[str, Iterable[str]]],
                       releases: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """`runs`: (purpose, brands) per run; `releases`: (purpose, requester, count)."""
    brands: dict[str, set[str]] = defaultdict(set)
    recipients: dict[str, set[str]] = defaultdict(set)
    activity: dict[str, dict[str, int]] = defaultdict(lambda: {"training_runs": 0,
                                                               "dp_releases": 0})
    for purpose, bs in consenting_brands.items():
        brands[purpose] |= set(bs)
    for purpose, bs in runs:
        brands[purpose] |= set(bs)
        recipients[purpose].add(COORDINATOR)
        activity[purpose]["training_runs"] += 1
    for purpose, requester, n in releases:
        recipients[purpose].add(f"{requester} (DP aggregates only)")
        activity[purpose]["dp_releases"] += n
    unknown = sorted(p for p in (*brands, *activity) if p not in policies.purposes)
    records = []
    for key, p in sorted(policies.purposes.items()):
        cats = (*p.required_categories, *p.optional_categories)
        records.append({
            "purpose": key, "description": p.description, "lawful_basis": p.lawful_basis,
            "source": p.source, "required_categories": list(p.required_categories),
            "optional_categories": list(p.optional_categories),
            "sensitive_categories": [c for c in cats if policies.categories[c].sensitive],
            "brands": sorted(brands.get(key, ())),
            "recipients": sorted(recipients.get(key, ())),
            **activity.get(key, {"training_runs": 0, "dp_releases": 0})})
    return {"records": records, "purposes_without_basis": sorted(set(unknown))}
