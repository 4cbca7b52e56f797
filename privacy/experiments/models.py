"""Experiments as a service registered them. A row is never changed after registration:
what a readout compares (arms, control, metric columns, window) is fixed before any data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    requester: Mapped[str] = mapped_column(String(160), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dp_datasets.id"), index=True)
    assignment_col: Mapped[str] = mapped_column(String(128))
    arms: Mapped[list[str]] = mapped_column(JSON)
    control_arm: Mapped[str] = mapped_column(String(64))
    conversion_col: Mapped[str] = mapped_column(String(128))
    spend_col: Mapped[str | None] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    registered_by: Mapped[str] = mapped_column(String(160))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
