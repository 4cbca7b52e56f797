"""Records training runs, per-brand lineage and model versions, each with its audit event."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import utcnow
from compliance.errors import NotFoundError
from federation.lineage.models import ModelVersion, TrainingRun, TrainingRunBrand
from federation.settings import RunSettings

COORDINATOR = "coordinator"


@dataclass(frozen=True)
class BrandLineage:
    brand_id: str
    records_used: int
    excluded_no_consent: int
    excluded_minor: int
    consent_snapshot_sha256: str
    dropped_columns: dict[str, str]


def weights_blob(weights: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *weights)
    return buf.getvalue()


def weights_from_blob(blob: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(blob)) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


class LineageService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def start_run(self, settings: RunSettings, strategy: str) -> TrainingRun:
        run = TrainingRun(id=settings.run_id, model=settings.model, purpose=settings.purpose,
                          strategy=strategy, status="running", rounds=settings.rounds,
                          consent_as_of=settings.as_of,
                          config={k: v for k, v in settings.__dict__.items()
                                  if k not in ("database_url", "silo_root")})
        self.session.add(run)
        self.session.flush()
        self.audit.record("training.started", actor=COORDINATOR, data={
            "run_id": run.id, "model": run.model, "purpose": run.purpose,
            "brands": list(settings.brands), "strategy": strategy,
            "consent_as_of": settings.consent_as_of})
        return run

    def record_brands(self, run_id: str, lineage: list[BrandLineage]) -> None:
        for b in lineage:
            self.session.add(TrainingRunBrand(
                run_id=run_id, brand_id=b.brand_id, records_used=b.records_used,
                excluded_no_consent=b.excluded_no_consent, excluded_minor=b.excluded_minor,
                consent_snapshot_sha256=b.consent_snapshot_sha256,
                dropped_columns=b.dropped_columns))
        self.session.flush()

    def complete(self, run_id: str, metrics: dict[str, Any], weights: list[np.ndarray]
                 ) -> ModelVersion:
        run = self.session.get(TrainingRun, run_id)
        if run is None:
            raise NotFoundError(f"training run {run_id} not found")
        blob = weights_blob(weights)
        digest = hashlib.sha256(blob).hexdigest()
        version = int(self.session.scalar(
            select(func.coalesce(func.max(ModelVersion.version), 0))
            .where(ModelVersion.model == run.model)) or 0) + 1
        mv = ModelVersion(model=run.model, version=version, run_id=run_id,
                          weights_sha256=digest, weights=blob)
        self.session.add(mv)
        run.status, run.metrics, run.finished_at = "completed", metrics, utcnow()
        self.session.flush()
        self.audit.record("training.completed", actor=COORDINATOR, data={
            "run_id": run_id, "model": run.model, "version": version,
            "weights_sha256": digest, "metrics": metrics.get("final", {})})
        return mv

    def fail(self, run_id: str, reason: str) -> None:
        run = self.session.get(TrainingRun, run_id)
        if run is not None:
            run.status, run.finished_at = "failed", utcnow()
        self.audit.record("training.failed", actor=COORDINATOR,
                          data={"run_id": run_id, "reason": reason[:500]})

    def runs(self) -> list[tuple[TrainingRun, list[TrainingRunBrand]]]:
        runs = self.session.scalars(select(TrainingRun).order_by(TrainingRun.started_at)).all()
        out = []
        for r in runs:
            brands = self.session.scalars(select(TrainingRunBrand).where(
                TrainingRunBrand.run_id == r.id).order_by(TrainingRunBrand.brand_id)).all()
            out.append((r, list(brands)))
        return out
