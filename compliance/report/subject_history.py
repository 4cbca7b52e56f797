"""One subject's history by pseudonym, for the DPO console: consent events over time, the
data-subject requests, and the training runs whose gate let the subject in (PIPL Art. 44-45
and GDPR Art. 15: what was done with a person's information, and on what basis). Reads only
pseudonyms, states and ids; no raw identifier is stored anywhere to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.requests.models import SubjectRequest
from compliance.subjects.models import Subject
from federation.coordinator.lineage.models import TrainingRun

MAX_EVENTS = 1000


@dataclass
class SubjectHistory:
    brand_id: str
    subject: str
    jurisdiction: str
    is_minor: bool
    erased: bool
    states: dict[str, str]
    consent_events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)


def subject_histories(session: Session, subject_key: str, *, actor: str
                      ) -> list[SubjectHistory]:
    """Every brand's subject under this pseudonym (a key is unique within a brand only).
    The look-up is itself processing and is audited (`subject.history_viewed`, PIPL Art. 54's
    traceability): who looked, for which pseudonym, how many brands answered."""
    consent = ConsentService(session)
    out = []
    for subj in session.scalars(select(Subject).where(Subject.subject_key == subject_key)
                                .order_by(Subject.brand_id)):
        events = sorted(consent.repo.events_of_subject(subj.id),
                        key=lambda e: (e.occurred_at, e.id))[-MAX_EVENTS:]
        history = SubjectHistory(
            brand_id=subj.brand_id, subject=subject_key, jurisdiction=subj.jurisdiction,
            is_minor=subj.is_minor, erased=subj.erased_at is not None,
            states=consent.states(subj.brand_id, subject_key))
        history.consent_events = [
            {"occurred_at": e.occurred_at.isoformat(), "purpose": e.purpose,
             "action": e.action, "separate": e.separate, "channel": e.channel,
             "notice_version": e.notice_version} for e in events]
        history.requests = [
            {"id": r.id, "type": r.type, "status": r.status,
             "received_at": r.received_at.isoformat(), "due_at": r.due_at.isoformat(),
             "closed_at": r.closed_at.isoformat() if r.closed_at else None}
            for r in session.scalars(select(SubjectRequest).where(
                SubjectRequest.subject_id == subj.id).order_by(SubjectRequest.received_at))]
        decisions = session.execute(
            select(AuditEvent.data, AuditEvent.rule_id, AuditEvent.occurred_at)
            .where(AuditEvent.action == "gate.decision", AuditEvent.brand_id == subj.brand_id,
                   AuditEvent.data["subject"].as_string() == subject_key)
            .order_by(AuditEvent.seq)).all()
        runs = {r.id: r for r in session.scalars(select(TrainingRun).where(TrainingRun.id.in_(
            {str(d["run_id"]) for d, _, _ in decisions})))}
        for data, rule, at in decisions:
            run = runs.get(str(data["run_id"]))
            history.runs.append({
                "run_id": str(data["run_id"]), "allowed": bool(data.get("allowed")),
                "rule": rule, "decided_at": at.isoformat(),
                "model": run.model if run else None, "purpose": run.purpose if run else None,
                "status": run.status if run else None})
        out.append(history)
    AuditLog(session).record("subject.history_viewed", actor=actor, data={
        "subject": subject_key, "brands": [h.brand_id for h in out]})
    return out
