"""A supervisor's request to see one sensitive field of one customer in clear: who asked,
why, who confirmed it (a second principal), and when it was used (once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class PiiReveal(Base):
    __tablename__ = "pii_reveals"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(160))
    requested_by_id: Mapped[int] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(160))
    approved_by_id: Mapped[int | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column()
    revealed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
