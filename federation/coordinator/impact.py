"""What the coordinator knows of a purpose's safeguards, for an impact assessment's draft
(PIPL Art. 56: the measures taken and whether they are lawful, effective and proportionate;
GDPR Art. 35(7)(d)): secure aggregation, the DP-SGD epsilon and delta, the columns the
brands' gates dropped (minimum necessary), the latest membership-inference audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from federation.coordinator.lineage.models import TrainingRun, TrainingRunBrand


def safeguards(session: Session, purpose: str) -> dict[str, Any]:
    """From the latest completed run of `purpose`; `{"runs": 0}` where there is none."""
    run = session.scalar(select(TrainingRun).where(
        TrainingRun.purpose == purpose, TrainingRun.status == "completed"
    ).order_by(TrainingRun.finished_at.desc()).limit(1))
    if run is None:
        return {"runs": 0, "note": "no completed run yet: safeguards as configured by policy"}
    dropped: dict[str, str] = {}
    for b in session.scalars(select(TrainingRunBrand).where(TrainingRunBrand.run_id == run.id)):
        dropped.update(b.dropped_columns)
    audit = None
    for data in session.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "privacy.audit").order_by(AuditEvent.seq.desc())):
        if data.get("run_id") == run.id:
            audit = {k: v for k, v in data.items() if k != "run_id"}
            break
    dp = run.metrics.get("dp") or {}
    return {"runs": 1, "run_id": run.id, "model": run.model,
            "secure_aggregation": bool(run.metrics.get(
                "secure_aggregation", run.config.get("secure_aggregation", False))),
            "dp": {"epsilon": dp.get("epsilon", run.config.get("dp_epsilon")),
                   "delta": dp.get("delta", run.config.get("dp_delta"))},
            "dropped_columns": dict(sorted(dropped.items())),
            "membership_inference": audit}
