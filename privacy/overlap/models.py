"""One row per overlap run: who asked, which brands, how many entered, what was released
(lineage of a PSI; PIPL Art. 23, 54; GDPR Art. 30). Append-only, anchored in the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class OverlapRun(Base):
    __tablename__ = "overlap_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(36), unique=True)
    requester: Mapped[str] = mapped_column(String(160))
    actor: Mapped[str] = mapped_column(String(160))
    requesting_brand: Mapped[str] = mapped_column(String(64))
    other_brand: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # cardinality | exact
    join_key: Mapped[str] = mapped_column(String(32))
    agreement_version: Mapped[str] = mapped_column(String(32))
    consent_as_of: Mapped[datetime] = mapped_column()
    entered: Mapped[dict[str, Any]] = mapped_column(default=dict)  # brand -> keys entered
    size_released: Mapped[int] = mapped_column(BigInteger)
    epsilon_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    ledger_id: Mapped[int | None] = mapped_column(ForeignKey("budget_ledgers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
