"""Append-only consent events per (brand, subject, purpose)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class ConsentEvent(Base):
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_lookup", "brand_id", "purpose", "subject_id"),
                      UniqueConstraint("principal_id", "idempotency_key"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    separate: Mapped[bool] = mapped_column(default=False)
    by_guardian: Mapped[bool] = mapped_column(default=False)
    notice_version: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    lawful_basis: Mapped[str] = mapped_column(String(32), default="consent")
    actor: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An Idempotency-Key is unique per principal (who sent it), not across the alliance.
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
