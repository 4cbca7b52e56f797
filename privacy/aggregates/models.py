"""Registered datasets, privacy budgets, per-period ledgers and the releases they paid for.

Epsilon is stored in integer micro-units so that "spent never exceeds the limit" is an exact
comparison in SQL on every backend, not a floating-point one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class DpDataset(Base):
    __tablename__ = "dp_datasets"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(16))
    unit_col: Mapped[str] = mapped_column(String(128))
    max_rows_per_unit: Mapped[int] = mapped_column(default=1)
    max_rows: Mapped[int] = mapped_column(BigInteger)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    columns: Mapped[dict[str, Any]] = mapped_column(default=dict)
    silos: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)
    registered_by: Mapped[str] = mapped_column(String(160))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrivacyBudget(Base):
    """The limit a requester may spend on a dataset per period (`comity budget set`)."""

    __tablename__ = "privacy_budgets"
    __table_args__ = (UniqueConstraint("requester", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    requester: Mapped[str] = mapped_column(String(128))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dp_datasets.id"))
    period: Mapped[str] = mapped_column(String(16))
    limit_micro: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetLedger(Base):
    """What one requester has spent on one dataset in one period; spent <= limit always."""

    __tablename__ = "budget_ledgers"
    __table_args__ = (UniqueConstraint("requester", "dataset_id", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    requester: Mapped[str] = mapped_column(String(128))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dp_datasets.id"))
    period: Mapped[str] = mapped_column(String(16))
    period_key: Mapped[str] = mapped_column(String(16))
    limit_micro: Mapped[int] = mapped_column(BigInteger)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    releases: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[int] = mapped_column(default=0)


class DpRelease(Base):
    """One answered query: what was asked (by digest), what it cost, what was suppressed."""

    __tablename__ = "dp_releases"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("budget_ledgers.id"), index=True)
    requester: Mapped[str] = mapped_column(String(128))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dp_datasets.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(128))
    measure: Mapped[str] = mapped_column(String(16))
    query_sha256: Mapped[str] = mapped_column(String(64))
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    delta: Mapped[float] = mapped_column(default=0.0)
    groups_released: Mapped[int] = mapped_column(default=0)
    groups_suppressed: Mapped[int] = mapped_column(default=0)
    federated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
