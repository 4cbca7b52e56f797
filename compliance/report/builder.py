"""Gathers the report's facts from the records. Only counts, pseudonyms and hashes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.database import utcnow
from compliance.errors import InputError
from compliance.report.period import Period
from compliance.subjects.models import Brand, Subject
from federation.lineage.models import ModelVersion
from federation.lineage.service import LineageService
from privacy.aggregates.ledger import MICRO, budget_views
from privacy.aggregates.models import DpDataset, DpRelease

REPORT_VERSION = "comity-report/1"


def _aggregates(session: Session) -> dict[str, Any]:
    """DP releases to internal services: budgets against limits, refusals, what was asked."""
    releases = session.execute(
        select(DpRelease.requester, DpDataset.name, DpRelease.measure, DpRelease.federated,
               func.count(), func.sum(DpRelease.epsilon_micro),
               func.sum(DpRelease.groups_suppressed))
        .join(DpDataset, DpDataset.id == DpRelease.dataset_id)
        .group_by(DpRelease.requester, DpDataset.name, DpRelease.measure, DpRelease.federated)
        .order_by(DpRelease.requester, DpDataset.name, DpRelease.measure)).all()
    return {
        "budgets": [v.model_dump() for v in budget_views(session, None)],
        "releases": [{"requester": r, "dataset": d, "measure": m, "federated": f,
                      "releases": n, "epsilon": (eps or 0) / MICRO,
                      "groups_suppressed": int(sup or 0)}
                     for r, d, m, f, n, eps, sup in releases],
    }


def build_report(session: Session, *, as_of: datetime | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    as_of = as_of or utcnow()
    brands = session.scalars(select(Brand).order_by(Brand.id)).all()
    subjects = dict(session.execute(
        select(Subject.brand_id, func.count()).group_by(Subject.brand_id)).all())
    minors = dict(session.execute(
        select(Subject.brand_id, func.count()).where(Subject.is_minor)
        .group_by(Subject.brand_id)).all())
    audits: dict[str, Any] = {}
    for data in session.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "privacy.audit").order_by(AuditEvent.seq)):
        audits[data["run_id"]] = data  # the latest audit of a run wins
    runs = []
    for run, lineage in LineageService(session).runs():
        mv = session.scalars(select(ModelVersion).where(ModelVersion.run_id == run.id)).first()
        runs.append({
            "run_id": run.id, "model": run.model, "purpose": run.purpose,
            "strategy": run.strategy, "status": run.status, "rounds": run.rounds,
            "consent_as_of": run.consent_as_of.isoformat(),
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "brands": [{"brand_id": b.brand_id, "records_used": b.records_used,
                        "excluded_no_consent": b.excluded_no_consent,
                        "excluded_minor": b.excluded_minor,
                        "consent_snapshot_sha256": b.consent_snapshot_sha256,
                        "dropped_columns": b.dropped_columns} for b in lineage],
            "metrics": run.metrics.get("final", {}),
            "metrics_by_round": run.metrics.get("rounds", {}),
            "model_version": mv.version if mv else None,
            "privacy_audit": audits.get(run.id),
            "weights_sha256": mv.weights_sha256 if mv else None,
        })
    audit = AuditLog(session)
    verified = audit.verify()
    actions = Counter(dict(session.execute(
        select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()))
    gate_rules = Counter(dict(session.execute(
        select(AuditEvent.rule_id, func.count()).where(AuditEvent.action == "gate.decision")
        .group_by(AuditEvent.rule_id)).all()))
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "generated_at": utcnow().isoformat(),
        "as_of": as_of.isoformat(),
        "brands": [{"brand_id": b.id, "name": b.name, "jurisdiction": b.jurisdiction,
                    "subjects": int(subjects.get(b.id, 0)), "minors": int(minors.get(b.id, 0))}
                   for b in brands],
        "consent": ConsentService(session).summary(as_of),
        "training_runs": runs,
        "gate_decisions_by_rule": dict(sorted(gate_rules.items(), key=lambda kv: str(kv[0]))),
        "aggregates": _aggregates(session),
        "audit": {"events": verified.events, "verified": verified.verified,
                  "head_sha256": verified.head_hash, "first_bad_seq": verified.first_bad_seq,
                  "problem": verified.problem, "by_action": dict(sorted(actions.items()))},
    }
    if extra:
        report.update(extra)
    return report


def build_period_report(session: Session, period: Period, *, lang: str = "en"
                        ) -> dict[str, Any]:
    """The report as the records stood at the end of `period` (or now, for the current one)."""
    if lang not in ("en", "zh"):
        raise InputError(f"language '{lang}' is not en or zh", column="lang")
    as_of = min(period.end, utcnow())
    if period.start > as_of:
        raise InputError(f"period {period.label} has not started", column="period")
    return build_report(session, as_of=as_of, extra={"period": period.as_dict(),
                                                      "lang": lang})
