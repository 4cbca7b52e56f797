"""Records training runs, per-brand lineage and model versions, each with its audit event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import utcnow
from compliance.errors import ConflictError, NotFoundError
from federation.coordinator.lineage.models import (
    ModelVersion,
    TrainingRound,
    TrainingRun,
    TrainingRunBrand,
)
from federation.release import ModelRelease, blob_digest, weights_blob, weights_from_blob

if TYPE_CHECKING:
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


RESUME_KEYS = ("brands", "model", "model_kind", "purpose", "rounds", "local_epochs",
               "learning_rate", "batch_size", "cutoff", "horizon_days", "seed",
               "secure_aggregation", "dp_epsilon", "dp_delta", "dp_clip")


@dataclass(frozen=True)
class ResumePoint:
    rounds: dict[int, dict[str, float]]
    weights: list[np.ndarray] | None
    snapshots: dict[str, str]  # brand -> consent snapshot digest the run was gated on
    attempts: int  # training attempts of the completed rounds, retries included


class LineageService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def start_run(self, settings: RunSettings, strategy: str) -> TrainingRun:
        run = TrainingRun(id=settings.run_id, model=settings.model, purpose=settings.purpose,
                          strategy=strategy, status="running", rounds=settings.rounds,
                          consent_as_of=settings.as_of,
                          config=dict(settings.__dict__))
        self.session.add(run)
        self.session.flush()
        self.audit.record("training.started", actor=COORDINATOR, data={
            "run_id": run.id, "model": run.model, "purpose": run.purpose,
            "brands": list(settings.brands), "strategy": strategy,
            "consent_as_of": settings.consent_as_of})
        return run

    def consent_as_of(self, run_id: str) -> datetime | None:
        run = self.session.get(TrainingRun, run_id)
        return run.consent_as_of if run else None

    def resume_run(self, settings: RunSettings) -> ResumePoint | None:
        """An unfinished run with this id: where it stands. None if there is no such run.
        A completed run is not trained again; a run whose settings changed is refused."""
        run = self.session.get(TrainingRun, settings.run_id)
        if run is None:
            return None
        if run.status == "completed":
            raise ConflictError(f"training run {run.id} is already completed")
        stored = {k: v for k, v in run.config.items() if k in RESUME_KEYS}
        wanted = {k: v for k, v in settings.__dict__.items() if k in RESUME_KEYS}
        if stored != {k: list(v) if isinstance(v, tuple) else v for k, v in wanted.items()}:
            raise ConflictError(f"training run {run.id} was started with other settings")
        done = self.session.scalars(select(TrainingRound).where(
            TrainingRound.run_id == run.id).order_by(TrainingRound.round)).all()
        brands = self.session.scalars(select(TrainingRunBrand).where(
            TrainingRunBrand.run_id == run.id)).all()
        run.status, run.finished_at = "running", None
        last = done[-1] if done else None
        self.audit.record("training.resumed", actor=COORDINATOR, data={
            "run_id": run.id, "from_round": last.round if last else 0,
            "weights_sha256": last.weights_sha256 if last else None})
        return ResumePoint(
            rounds={r.round: r.metrics for r in done},
            weights=weights_from_blob(last.weights) if last else None,
            snapshots={b.brand_id: b.consent_snapshot_sha256 for b in brands},
            attempts=sum(r.attempts for r in done))

    def lineage(self, run_id: str) -> list[BrandLineage]:
        return [BrandLineage(b.brand_id, b.records_used, b.excluded_no_consent,
                             b.excluded_minor, b.consent_snapshot_sha256, b.dropped_columns)
                for b in self.session.scalars(select(TrainingRunBrand).where(
                    TrainingRunBrand.run_id == run_id).order_by(TrainingRunBrand.brand_id))]

    def save_round(self, run_id: str, server_round: int, weights: list[np.ndarray],
                   metrics: dict[str, float], attempts: int) -> str:
        blob = weights_blob(weights)
        digest = blob_digest(blob)
        self.session.add(TrainingRound(run_id=run_id, round=server_round, weights=blob,
                                       weights_sha256=digest, metrics=metrics,
                                       attempts=attempts))
        self.session.flush()
        self.audit.record("training.round", actor=COORDINATOR, data={
            "run_id": run_id, "round": server_round, "weights_sha256": digest,
            "attempts": attempts})
        return digest

    def round_failed(self, run_id: str, server_round: int, attempt: int, reason: str) -> None:
        self.audit.record("training.round_failed", actor=COORDINATOR, data={
            "run_id": run_id, "round": server_round, "attempt": attempt,
            "reason": reason[:500]})

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
        digest = blob_digest(blob)
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

    def latest_release(self, model: str, *, brand_id: str | None = None) -> ModelRelease:
        """The newest version of `model` from a completed run, as released to the brands:
        weights checked against their recorded digest, the run's settings and its final
        federated-evaluation metrics. With `brand_id`, only a run that brand took part in:
        a brand is never given a model trained without it."""
        q = (select(ModelVersion, TrainingRun.config, TrainingRun.metrics)
             .join(TrainingRun, TrainingRun.id == ModelVersion.run_id)
             .where(ModelVersion.model == model, TrainingRun.status == "completed"))
        if brand_id is not None:
            q = q.join(TrainingRunBrand, (TrainingRunBrand.run_id == TrainingRun.id)
                       & (TrainingRunBrand.brand_id == brand_id))
        row = self.session.execute(q.order_by(ModelVersion.version.desc()).limit(1)).first()
        if row is None:
            raise NotFoundError(f"no trained {model} model yet"
                                + (f" that brand '{brand_id}' took part in" if brand_id else "")
                                + " (run a federated training first)")
        mv, config, metrics = row
        return ModelRelease.from_blob(model=mv.model, version=mv.version,
                                      weights_sha256=mv.weights_sha256, blob=mv.weights,
                                      config=dict(config),
                                      final=dict((metrics or {}).get("final") or {}))

    def runs(self, *, limit: int = 50) -> list[TrainingRun]:
        return list(self.session.scalars(select(TrainingRun).order_by(
            TrainingRun.started_at.desc()).limit(limit)))

    def run(self, run_id: str) -> TrainingRun:
        run = self.session.get(TrainingRun, run_id)
        if run is None:
            raise NotFoundError(f"no training run '{run_id}'")
        return run

    def versions(self, model: str | None = None) -> list[ModelVersion]:
        q = select(ModelVersion).order_by(ModelVersion.model, ModelVersion.version.desc())
        return list(self.session.scalars(q if model is None
                                         else q.where(ModelVersion.model == model)))

    def record_serving(self, model: str, version: int, brand_id: str, actor: str,
                       summary: dict[str, Any]) -> None:
        """A brand's serving run, as counts: audited as `serving.churn_scored` or
        `serving.recommended`, only for a version of a run the brand took part in."""
        mv = self.session.scalar(select(ModelVersion).where(
            ModelVersion.model == model, ModelVersion.version == version))
        took_part = mv is not None and self.session.scalar(select(TrainingRunBrand.id).where(
            TrainingRunBrand.run_id == mv.run_id, TrainingRunBrand.brand_id == brand_id))
        if mv is None or not took_part:
            raise NotFoundError(f"no {model} model version {version} for brand '{brand_id}'")
        action = "serving.churn_scored" if model == "churn" else "serving.recommended"
        self.audit.record(action, actor=actor, brand_id=brand_id, data={
            **summary, "model_version": version, "weights_sha256": mv.weights_sha256})
