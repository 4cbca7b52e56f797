"""Records of governance: impact assessments (PIPL Art. 55-56), cross-border transfers and
the mechanisms they rest on (PIPL Art. 38-40), and security incidents (PIPL Art. 57)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class ImpactAssessment(Base):
    """A drafted assessment; approved by a principal other than its author, it lets runs of
    its purpose go ahead until `expires_at`. Kept until `keep_until` (Art. 56: 3 years)."""

    __tablename__ = "impact_assessments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    triggers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"rules": [keys]}
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    author: Mapped[str] = mapped_column(String(128))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    keep_until: Mapped[datetime] = mapped_column()


class TransferMechanism(Base):
    """A standard contract filed, a certification or a security assessment passed."""

    __tablename__ = "transfer_mechanisms"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    handler: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[date] = mapped_column()
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrossBorderTransfer(Base):
    """One provision abroad, counted into its handler's calendar year."""

    __tablename__ = "cross_border_transfers"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    handler: Mapped[str] = mapped_column(String(64), index=True)
    year: Mapped[int] = mapped_column(index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    individuals: Mapped[int] = mapped_column()
    sensitive_individuals: Mapped[int] = mapped_column(default=0)
    rule_id: Mapped[str] = mapped_column(String(128))
    mechanism_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_mechanisms.id"))
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """A personal-information security incident, its deadlines and its notification."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # manual | audit_verification | ...
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the content the laws list
    affected: Mapped[dict[str, Any]] = mapped_column(default=dict)  # brand -> law -> count
    deadlines: Mapped[dict[str, Any]] = mapped_column(default=dict)  # law -> ISO times, rule
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[str] = mapped_column(String(128))
    discovered_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
