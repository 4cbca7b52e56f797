"""Data-subject requests (access, portability, correction, deletion, withdrawal,
refusing personalization and automated decisions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class SubjectRequest(Base):
    __tablename__ = "subject_requests"
    __table_args__ = (UniqueConstraint("opened_by_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    type: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Principals: who opened it (its Idempotency-Key is unique per opener) and who approved
    # it; the two-person rule compares these, never tokens.
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
