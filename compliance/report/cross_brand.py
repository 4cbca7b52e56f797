"""Cross-brand overlaps for the DPO (issue 26): every private set intersection of two brands'
customers in the period, who asked, which brands, how many entered and what was released,
and the refusals. Linking customers across brands provides their information to another
handler (PIPL Art. 23): only separately consented customers enter, and the DPO sees each run,
the linkage of a de-duplicated aggregate (mode `dedup`: no size released, how many points
were dropped as duplicates) among them.
Counted from the audit log only (`overlap.release`, `overlap.refused`, and
`governance.refused` of kind overlap); no identifiers are in it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.report.evidence import Window, evidence

ACTIONS = ("overlap.release", "overlap.refused", "governance.refused")
SOURCE = "PIPL Art. 23 (separate consent to provide to another handler), Art. 55(3); GDPR Art. 26"


def cross_brand_section(session: Session, window: Window) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    refused = 0
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.rule_id, AuditEvent.data,
               AuditEvent.occurred_at)
        .where(AuditEvent.action.in_(ACTIONS), window.clause(AuditEvent.occurred_at))
        .order_by(AuditEvent.seq)).all()
    for action, actor, _rule, data, at in rows:
        if action == "overlap.release":
            runs.append({"run_id": data.get("run_id"), "requester": data.get("requester"),
                         "actor": actor, "brands": data.get("brands", []),
                         "mode": data.get("mode"), "entered": data.get("entered", {}),
                         "size_released": data.get("size_released"),
                         "dropped_duplicates": data.get("dropped_duplicates"),
                         "epsilon": data.get("epsilon", 0.0), "at": at.isoformat()})
        elif action == "overlap.refused" or data.get("kind") == "overlap":
            refused += 1
    return {"runs": runs, "refused": refused,
            "exact": sum(1 for r in runs if r["mode"] == "exact"), "source": SOURCE,
            "evidence": evidence(session, ("overlap.release", "overlap.refused"), window)}
