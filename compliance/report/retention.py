"""Retention for the DPO: sweeps in the period by rule, and what is still past retention."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.policy.schemas import PolicySet
from compliance.report.evidence import Window, evidence
from compliance.retention.service import overdue_counts

RETENTION_ACTIONS = ("retention.erased", "retention.deleted")


def retention_section(session: Session, policies: PolicySet, window: Window, as_of: datetime
                      ) -> dict[str, Any]:
    actions: dict[str, dict[str, Any]] = defaultdict(lambda: {"batches": 0, "records": 0})
    for rule, action, data in session.execute(
            select(AuditEvent.rule_id, AuditEvent.action, AuditEvent.data)
            .where(AuditEvent.action.in_(RETENTION_ACTIONS),
                   window.clause(AuditEvent.occurred_at))):
        a = actions[str(rule)]
        a["action"] = action.split(".")[1]
        a["batches"] += 1
        a["records"] += int(data.get("subjects", data.get("records", 0)))
    sweeps = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "retention.swept", window.clause(AuditEvent.occurred_at))) or 0
    rules = {r.key: r for r in policies.retention}
    still = overdue_counts(session, policies, as_of)
    return {
        "rules": [{"rule": k, "after_days": r.after_days, "action": r.action,
                   "source": r.source, "done": dict(actions.get(k, {"batches": 0,
                                                                     "records": 0})),
                   "still_overdue": still.get(k, 0)} for k, r in rules.items()],
        "still_overdue": still,
        "sweeps": int(sweeps),
        "evidence": evidence(session, (*RETENTION_ACTIONS, "retention.swept"), window),
    }
