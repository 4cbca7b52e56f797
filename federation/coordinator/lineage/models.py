"""Training runs, their per-brand lineage and the model versions they produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class TrainingRun(Base):
    __tablename__ = "training_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    rounds: Mapped[int] = mapped_column(default=0)
    consent_as_of: Mapped[datetime] = mapped_column()
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class TrainingRunBrand(Base):
    __tablename__ = "training_run_brands"
    __table_args__ = (UniqueConstraint("run_id", "brand_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"), index=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"))
    records_used: Mapped[int] = mapped_column()
    excluded_no_consent: Mapped[int] = mapped_column()
    excluded_minor: Mapped[int] = mapped_column()
    consent_snapshot_sha256: Mapped[str] = mapped_column(String(64))
    dropped_columns: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column()
    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    weights: Mapped[bytes] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRound(Base):
    """The global model after each completed round: a restarted coordinator resumes from
    the last one instead of starting over, and a failed round is retried from it."""

    __tablename__ = "training_rounds"
    __table_args__ = (UniqueConstraint("run_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"), index=True)
    round: Mapped[int] = mapped_column()
    weights_sha256: Mapped[str] = mapped_column(String(64))
    weights: Mapped[bytes] = mapped_column()
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=1)
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
