"""Gathers the DPO report's facts from the records: counts, pseudonyms, hashes, and the
audit events behind each figure. Every section is one module; this one orders them,
derives the checklist metrics and scores the checklist from policies/."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from compliance.audit.checkpoint_models import AuditCheckpoint
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.audit.witnesses import WitnessService
from compliance.database import utcnow
from compliance.errors import InputError
from compliance.policy.loader import load_policies
from compliance.policy.schemas import PolicySet
from compliance.report import checklist
from compliance.report.automated_decisions import automated_decisions_section
from compliance.report.consent_coverage import (
    CONSENT_STATES,
    RunRef,
    consent_section,
    unenforced_separate,
)
from compliance.report.cross_brand import cross_brand_section
from compliance.report.evidence import Window, evidence
from compliance.report.governance import governance_section
from compliance.report.period import Period
from compliance.report.pii_findings import pii_section
from compliance.report.processing import processing_records
from compliance.report.retention import retention_section
from compliance.report.subject_requests import requests_section
from compliance.subjects.models import Brand, Subject
from federation.coordinator.lineage.models import ModelVersion, TrainingRun, TrainingRunBrand
from privacy.aggregates.ledger import MICRO, budget_views
from privacy.aggregates.models import BudgetLedger, DpDataset, DpRelease

REPORT_VERSION = "comity-report/2"


def _aggregates(session: Session, window: Window) -> dict[str, Any]:
    """DP releases to internal services: budgets against limits, refusals, what was asked,
    and each ledger's burn-down (remaining epsilon after every release)."""
    in_window = window.clause(DpRelease.created_at)
    releases = session.execute(
        select(DpRelease.requester, DpDataset.name, DpRelease.measure, DpRelease.federated,
               DpRelease.purpose, func.count(), func.sum(DpRelease.epsilon_micro),
               func.sum(DpRelease.groups_suppressed))
        .join(DpDataset, DpDataset.id == DpRelease.dataset_id).where(in_window)
        .group_by(DpRelease.requester, DpDataset.name, DpRelease.measure, DpRelease.federated,
                  DpRelease.purpose)
        .order_by(DpRelease.requester, DpDataset.name, DpRelease.measure)).all()
    ledgers = {led.id: led for led in session.scalars(select(BudgetLedger))}
    burn: dict[int, list[list[Any]]] = defaultdict(list)
    spent: dict[int, int] = defaultdict(int)
    for ledger_id, at, eps in session.execute(
            select(DpRelease.ledger_id, DpRelease.created_at, DpRelease.epsilon_micro)
            .order_by(DpRelease.created_at, DpRelease.id)):
        spent[ledger_id] += eps
        if window.contains(at):
            led = ledgers[ledger_id]
            burn[ledger_id].append([at.isoformat(), (led.limit_micro - spent[ledger_id]) / MICRO])
    names = dict(session.execute(select(DpDataset.id, DpDataset.name)).all())
    budgets = [v.model_dump() for v in budget_views(session, None)]
    return {
        "budgets": budgets,
        "ledgers_over_limit": sum(1 for b in budgets if b["spent_epsilon"] > b["limit_epsilon"]),
        "refusals": sum(b["refusals"] for b in budgets),
        "releases": [{"requester": r, "dataset": d, "measure": m, "federated": f,
                      "purpose": p, "releases": n, "epsilon": (eps or 0) / MICRO,
                      "groups_suppressed": int(sup or 0)}
                     for r, d, m, f, p, n, eps, sup in releases],
        "burn_down": [{"requester": ledgers[i].requester, "dataset": names[ledgers[i].dataset_id],
                       "period_key": ledgers[i].period_key,
                       "limit_epsilon": ledgers[i].limit_micro / MICRO, "points": pts}
                      for i, pts in sorted(burn.items())],
        "evidence": evidence(session, ["aggregate.release", "aggregate.refused", "budget.set"],
                             window),
    }


def _training_runs(session: Session, window: Window) -> list[dict[str, Any]]:
    runs = session.scalars(select(TrainingRun).where(window.clause(TrainingRun.started_at))
                           .order_by(TrainingRun.started_at)).all()
    ids = [r.id for r in runs]
    brands: dict[str, list[TrainingRunBrand]] = defaultdict(list)
    versions: dict[str, ModelVersion] = {}
    audits: dict[str, Any] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for b in session.scalars(select(TrainingRunBrand).where(TrainingRunBrand.run_id.in_(
                chunk)).order_by(TrainingRunBrand.brand_id)):
            brands[b.run_id].append(b)
        for mv in session.scalars(select(ModelVersion).where(ModelVersion.run_id.in_(chunk))):
            versions[mv.run_id] = mv
    for data in session.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "privacy.audit").order_by(AuditEvent.seq)):
        audits[data["run_id"]] = data  # the latest audit of a run wins
    out = []
    for run in runs:
        version = versions.get(run.id)
        lineage = brands.get(run.id, [])
        out.append({
            "run_id": run.id, "model": run.model, "purpose": run.purpose,
            "strategy": run.strategy, "status": run.status, "rounds": run.rounds,
            "consent_as_of": run.consent_as_of.isoformat(),
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "secure_aggregation": bool(run.metrics.get(
                "secure_aggregation", run.config.get("secure_aggregation", False))),
            "dp": run.metrics.get("dp"),
            "brands": [{"brand_id": b.brand_id, "records_used": b.records_used,
                        "excluded_no_consent": b.excluded_no_consent,
                        "excluded_minor": b.excluded_minor,
                        "consent_snapshot_sha256": b.consent_snapshot_sha256,
                        "dropped_columns": b.dropped_columns} for b in lineage],
            "records_used": sum(b.records_used for b in lineage),
            "records_excluded": sum(b.excluded_no_consent + b.excluded_minor for b in lineage),
            "metrics": run.metrics.get("final", {}),
            "metrics_by_round": run.metrics.get("rounds", {}),
            "per_brand_lift": run.metrics.get("per_brand_lift", {}),
            "model_version": version.version if version else None,
            "weights_sha256": version.weights_sha256 if version else None,
            "privacy_audit": audits.get(run.id),
        })
    return out


def _minors_used(session: Session, window: Window) -> int:
    """Subjects a gate let into training who are minors without a guardian's consent:
    the coordinator's own per-subject decisions joined back to the subject's flags."""
    subject = AuditEvent.data["subject"].as_string()
    return int(session.scalar(
        select(func.count()).select_from(AuditEvent)
        .join(Subject, and_(Subject.brand_id == AuditEvent.brand_id,
                            Subject.subject_key == subject))
        .where(AuditEvent.action == "gate.decision",
               AuditEvent.data["allowed"].as_boolean() == true(),
               window.clause(AuditEvent.occurred_at),
               Subject.is_minor, ~Subject.guardian_consent)) or 0)


def _audit(session: Session, window: Window) -> dict[str, Any]:
    verified = AuditLog(session).verify()
    actions = dict(session.execute(
        select(AuditEvent.action, func.count()).where(window.clause(AuditEvent.occurred_at))
        .group_by(AuditEvent.action)).all())
    checkpoints = session.scalars(select(AuditCheckpoint).where(
        window.clause(AuditCheckpoint.created_at)).order_by(AuditCheckpoint.last_seq)).all()
    return {"events": verified.events, "verified": verified.verified,
            "head_sha256": verified.head_hash, "first_bad_seq": verified.first_bad_seq,
            "problem": verified.problem, "by_action": dict(sorted(actions.items())),
            "checkpoints": [{"first_seq": c.first_seq, "last_seq": c.last_seq,
                             "merkle_root": c.merkle_root, "head_sha256": c.head_hash,
                             "public_key": c.public_key, "created_at": c.created_at.isoformat(),
                             "tree_size": c.tree_size, "tree_root": c.tree_root}
                            for c in checkpoints],
            "witnesses": _witnesses(session, checkpoints)}


def _witnesses(session: Session, checkpoints: Sequence[AuditCheckpoint]) -> dict[str, Any] | None:
    """How many brands witnessed the period's last signed tree head, checked at their own
    nodes against every head they saw before: the outside anchor that makes a cut tail (with
    its checkpoint) detectable. None when the period has no signed tree head."""
    heads = [(c.tree_size, c.tree_root, c.created_at) for c in checkpoints
             if c.tree_size is not None and c.tree_root is not None]
    if not heads:
        return None
    size, root, at = heads[-1]
    brands = WitnessService(session).brands_for(size, root)
    alliance = int(session.scalar(select(func.count()).select_from(Brand)) or 0)
    return {"tree_size": size, "tree_root": root, "created_at": at.isoformat(),
            "brands": len(brands), "brand_ids": brands, "alliance_brands": alliance}


def _by_purpose(coverage: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Subjects by purpose and consent state, summed over brands."""
    out: dict[str, dict[str, int]] = {}
    for row in coverage:
        acc = out.setdefault(row["purpose"], {s: 0 for s in CONSENT_STATES})
        for s in CONSENT_STATES:
            acc[s] += row[s]
    return dict(sorted(out.items()))


def _none_if(empty: bool, value: int) -> int | None:
    return None if empty else value


def build_report(session: Session, *, as_of: datetime | None = None,
                 window: Window | None = None, policies: PolicySet | None = None,
                 weekly: bool = False, known_at: datetime | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report: consent states as of `as_of`, activity inside `window`; with
    `known_at`, consent figures count only events recorded by then (an issued period)."""
    as_of = as_of or utcnow()
    window = window or Window()
    policies = policies or load_policies()
    brands = session.scalars(select(Brand).order_by(Brand.id)).all()
    subjects = dict(session.execute(
        select(Subject.brand_id, func.count()).group_by(Subject.brand_id)).all())
    minors = dict(session.execute(
        select(Subject.brand_id, func.count()).where(Subject.is_minor)
        .group_by(Subject.brand_id)).all())
    runs = _training_runs(session, window)
    refs = [RunRef(r["run_id"], r["model"], r["purpose"],
                   datetime.fromisoformat(r["consent_as_of"]),
                   tuple(b["brand_id"] for b in r["brands"])) for r in runs]
    consent = consent_section(session, policies, window, as_of, refs, weekly=weekly,
                              known_at=known_at)
    effects = {e["run_id"]: e for e in consent["withdrawals"]["effect_on_runs"]}
    for r in runs:
        r["consent_effects"] = effects[r["run_id"]]
    requests = requests_section(session, policies, window, as_of, weekly=weekly)
    retention = retention_section(session, policies, window, as_of)
    pii = pii_section(session, policies, window)
    aggregates = _aggregates(session, window)
    audit = _audit(session, window)
    gate_rules = dict(session.execute(
        select(AuditEvent.rule_id, func.count()).where(
            AuditEvent.action == "gate.decision", window.clause(AuditEvent.occurred_at))
        .group_by(AuditEvent.rule_id)).all())
    processing = processing_records(
        policies,
        consenting_brands={p: {c["brand_id"] for c in consent["coverage"]
                               if c["purpose"] == p and (c["granted"] + c["separate"])}
                           for p in {c["purpose"] for c in consent["coverage"]}},
        runs=[(r["purpose"], [b["brand_id"] for b in r["brands"]]) for r in runs],
        releases=[(x["purpose"], x["requester"], x["releases"]) for x in aggregates["releases"]])
    completed = [r for r in runs if r["status"] == "completed"]
    req_seen = requests["totals"]["received"] + requests["totals"]["open"]
    metrics: dict[str, bool | int | float | None] = {
        "audit.verified": audit["verified"],
        "audit.signed_checkpoints": len(audit["checkpoints"]),
        "processing.purposes_without_basis": len(processing["purposes_without_basis"]),
        "training.runs_without_lineage": _none_if(not completed, sum(
            1 for r in completed
            if not r["brands"] or not all(b["consent_snapshot_sha256"] for b in r["brands"]))),
        "training.identifying_categories_used": _none_if(
            not pii["evidence"]["events"], len(pii["identifying_categories_used"])),
        "training.minors_without_guardian_used": _none_if(not runs, _minors_used(session,
                                                                                 window)),
        "training.models_without_privacy_audit": _none_if(not completed, sum(
            1 for r in completed if not r["privacy_audit"])),
        "policy.separate_consent_unenforced": len(unenforced_separate(policies)),
        "consent.models_trained_on_withdrawn": _none_if(
            not runs, len(consent["models_trained_on_withdrawn"])),
        "requests.closed_late": _none_if(not req_seen, requests["totals"]["late"]),
        "requests.open_overdue": _none_if(not req_seen, requests["totals"]["overdue"]),
        "retention.still_overdue": sum(retention["still_overdue"].values()),
        "aggregates.ledgers_over_limit": _none_if(not aggregates["budgets"],
                                                  aggregates["ledgers_over_limit"]),
    }
    governance, governance_metrics = governance_section(
        session, policies, as_of, {k: int(v) for k, v in subjects.items()},
        {r["purpose"] for r in runs} | {x["purpose"] for x in aggregates["releases"]})
    metrics.update(governance_metrics)
    items = checklist.score(policies.checklist.items, metrics,
                            [b.jurisdiction for b in brands])
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "generated_at": utcnow().isoformat(),
        "as_of": as_of.isoformat(),
        "window": {"start": window.start.isoformat() if window.start else None,
                   "end": window.end.isoformat() if window.end else None},
        "checklist": {"source": policies.checklist.source, "items": items,
                      "summary": checklist.summary(items)},
        "metrics": metrics,
        "brands": [{"brand_id": b.id, "name": b.name, "jurisdiction": b.jurisdiction,
                    "subjects": int(subjects.get(b.id, 0)), "minors": int(minors.get(b.id, 0))}
                   for b in brands],
        "processing_records": processing,
        "consent": _by_purpose(consent["coverage"]),
        "consent_coverage": consent,
        "requests": requests,
        "automated_decisions": automated_decisions_section(session, window),
        "cross_brand": cross_brand_section(session, window),
        "retention": retention,
        "pii_findings": pii,
        "training_runs": runs,
        "gate_decisions_by_rule": dict(sorted(gate_rules.items(), key=lambda kv: str(kv[0]))),
        "aggregates": aggregates,
        "audit": audit,
        "governance": governance,
    }
    if extra:
        report.update(extra)
    return report


def build_period_report(session: Session, period: Period, *, lang: str = "en"
                        ) -> dict[str, Any]:
    """The report as the records stood at the end of `period` (or now, for the current one)."""
    if lang not in ("en", "zh"):
        raise InputError("lang: use en or zh", column="lang")
    as_of = min(period.end, utcnow())
    if period.start > as_of:
        raise InputError(f"period {period.label} has not started", column="period")
    weekly = (period.end - period.start).days <= 31
    issued = first_issued_at(session, period.label)
    extra: dict[str, Any] = {"period": period.as_dict(), "lang": lang,
                             "first_issued_at": issued.isoformat() if issued else None}
    return build_report(session, as_of=as_of, window=Window(period.start, period.end),
                        weekly=weekly, known_at=issued, extra=extra)


def first_issued_at(session: Session, label: str) -> datetime | None:
    """When a report for this period was first issued. From then on the period is closed:
    its consent figures stay as issued and later-recorded events dated inside it are shown
    as corrections (GDPR Art. 5(1)(d), PIPL Art. 54: an issued record is not rewritten)."""
    return session.scalar(select(func.min(AuditEvent.occurred_at)).where(
        AuditEvent.action == "report.issued",
        AuditEvent.data["period"].as_string() == label))
