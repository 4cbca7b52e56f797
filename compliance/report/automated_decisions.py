"""Automated decisions for the DPO: how many were made, refused and explained in the period.

Churn scores and personalized recommendations are automated decisions about a person (PIPL
Art. 24; GDPR Art. 22; CCPA ADMT regulations, 11 CCR 7220-7222). The figures are counted from
the audit log only: the brands' serving runs (`serving.churn_scored` / `serving.recommended`,
counts, no identifiers), and the completed `refuse_*` and `explanation` requests.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.report.evidence import Window, evidence

SERVING_ACTIONS = ("serving.churn_scored", "serving.recommended")
REFUSAL_TYPES = ("refuse_personalization", "refuse_automated_decision")
EXPLANATION_TYPE = "explanation"
SOURCES = {
    "made": "PIPL Art. 24(1); GDPR Art. 22(1); 11 CCR 7220 (ADMT)",
    "refused": "PIPL Art. 24(2)-(3) (refusal; the non-personalized option); GDPR Art. 21-22; "
               "11 CCR 7221 (opt-out of ADMT)",
    "explained": "PIPL Art. 24(3); GDPR Art. 22(3), 15(1)(h); 11 CCR 7222 (access to ADMT "
                 "information)",
}


def _int(data: dict[str, Any], key: str) -> int:
    v = data.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def automated_decisions_section(session: Session, window: Window) -> dict[str, Any]:
    """`made`: individual (personalized) scores or lists served; `not_personalized`: the
    Art. 24 fallback (no individual decision: refused, or no history); `refusal_requests` and
    `explained`: the subjects' refusals and explanations completed in the period."""
    made = fallback = runs = refusals = explained = 0
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.data)
        .where(AuditEvent.action.in_((*SERVING_ACTIONS, "request.completed")),
               window.clause(AuditEvent.occurred_at))).all()
    for action, data in rows:
        if action in SERVING_ACTIONS:
            runs += 1
            made += _int(data, "personalized")
            fallback += _int(data, "not_personalized")
        elif data.get("type") in REFUSAL_TYPES:
            refusals += 1
        elif data.get("type") == EXPLANATION_TYPE:
            explained += 1
    return {"serving_runs": runs, "made": made, "not_personalized": fallback,
            "refusal_requests": refusals, "explained": explained, "sources": SOURCES,
            "evidence": evidence(session, (*SERVING_ACTIONS, "request.completed"), window)}
