"""PII findings by brand and column: what each brand's gate found and dropped before any
feature left the table, from the `gate.summary` events of training runs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.policy.schemas import PolicySet
from compliance.report.evidence import Window, evidence


def pii_section(session: Session, policies: PolicySet, window: Window) -> dict[str, Any]:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    used: dict[str, set[str]] = defaultdict(set)
    for seq, digest, brand, data in session.execute(
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.brand_id, AuditEvent.data)
            .where(AuditEvent.action == "gate.summary", window.clause(AuditEvent.occurred_at))
            .order_by(AuditEvent.seq)):
        for column, reason in (data.get("dropped_columns") or {}).items():
            row = found.setdefault((brand or "", column, reason), {
                "brand_id": brand, "column": column, "finding": reason, "runs": 0,
                "first_seq": seq})
            row["runs"] += 1
            row["last_seq"], row["last_sha256"] = seq, digest
        for cat in data.get("categories") or ():
            used[brand or ""].add(cat)
    identifying = sorted({c for cats in used.values() for c in cats
                          if c in policies.categories and policies.categories[c].identifying})
    return {
        "findings": [found[k] for k in sorted(found)],
        "pii_detected": sum(1 for r in found.values() if r["finding"].startswith("PII")),
        "categories_used": {b: sorted(c) for b, c in sorted(used.items())},
        "identifying_categories_used": identifying,
        "evidence": evidence(session, ["gate.summary"], window),
    }
