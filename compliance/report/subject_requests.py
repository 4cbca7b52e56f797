"""Data-subject requests for the DPO: by type, deadline met or missed, open and overdue."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance.policy.schemas import PolicySet
from compliance.report.evidence import Window, evidence
from compliance.report.period import bucket_label
from compliance.requests.models import SubjectRequest
from compliance.requests.service import CLOSED

REQUEST_ACTIONS = ("request.opened", "request.approved", "request.updated", "request.completed")
OPEN_LISTED = 50


def requests_section(session: Session, policies: PolicySet, window: Window, as_of: datetime,
                     *, weekly: bool = False) -> dict[str, Any]:
    """Requests received in the period, and any still open at its end (carried over)."""
    r = SubjectRequest
    received_here = window.clause(r.received_at)
    rows = session.execute(
        select(r.id, r.brand_id, r.type, r.jurisdiction, r.status, r.received_at, r.due_at,
               r.closed_at)
        .where(r.received_at <= as_of,
               or_(received_here, r.closed_at.is_(None), r.closed_at > as_of))
        .order_by(r.due_at)).all()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    trend: dict[str, Counter[str]] = defaultdict(Counter)
    open_rows = []
    for rid, brand, kind, jurisdiction, status, received, due, closed in rows:
        c = by_type[kind]
        if window.contains(received):
            c["received"] += 1
            trend[bucket_label(received, weekly)]["received"] += 1
        if closed is not None and closed <= as_of and status in CLOSED:
            c[status] += 1
            if status == "completed":
                late = closed > due
                c["late" if late else "on_time"] += 1
                trend[bucket_label(closed, weekly)]["late" if late else "on_time"] += 1
        else:
            c["open"] += 1
            overdue = due < as_of
            c["overdue"] += overdue
            if overdue:
                trend[bucket_label(due, weekly)]["overdue"] += 1
            open_rows.append({"request_id": rid, "brand_id": brand, "type": kind,
                              "jurisdiction": jurisdiction, "due_at": due.isoformat(),
                              "overdue": overdue,
                              "days_left": round((due - as_of).total_seconds() / 86400, 1)})
    keys = ("received", "completed", "rejected", "on_time", "late", "open", "overdue")
    totals = {k: sum(c[k] for c in by_type.values()) for k in keys}
    return {
        "deadlines": {j: {"days": d.days, "source": d.source}
                      for j, d in sorted(policies.deadlines.items())},
        "by_type": {t: {k: c[k] for k in keys} for t, c in sorted(by_type.items())},
        "totals": totals,
        "open": open_rows[:OPEN_LISTED],
        "open_not_listed": max(len(open_rows) - OPEN_LISTED, 0),
        "trend": [{"bucket": b, **{k: v[k] for k in ("received", "on_time", "late", "overdue")}}
                  for b, v in sorted(trend.items())],
        "evidence": evidence(session, REQUEST_ACTIONS, window),
    }
