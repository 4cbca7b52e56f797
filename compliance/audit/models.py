"""Audit events. `hash` = SHA-256 over the predecessor's hash and this event's
canonical JSON, so any edit, deletion, insertion or reordering breaks the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The 7-day trace (`compliance.audit.trace`): by actor, and by the subject pseudonym and
    # run id inside `data`. The expression indexes are spelled here as on PostgreSQL, where
    # Alembic compares them; the migration writes SQLite's `json_extract` form.
    __table_args__ = (
        Index("ix_audit_events_actor_occurred_at", "actor", "occurred_at"),
        Index("ix_audit_events_data_subject", text("(data ->> 'subject')"), "seq"),
        Index("ix_audit_events_data_run_id", text("(data ->> 'run_id')"), "seq"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    brand_id: Mapped[str | None] = mapped_column(String(64))
    rule_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditSubject(Base):
    """Which subjects one audit event concerns, a row per (event, subject, record): the
    7-day trace's index for events that carry many subjects (a consent import's batch is
    one audit event over thousands of consent events, issue 24). Append-only and anchored
    (`anchors`), so a row removed to hide a subject from the trace fails `verify`."""
    __tablename__ = "audit_subjects"
    __table_args__ = (Index("ix_audit_subjects_subject_seq", "subject", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # the audit event's seq; no foreign key: the rows are written, and their digests taken,
    # just before the event that anchors them
    seq: Mapped[int] = mapped_column()
    brand_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))  # the brand's pseudonym, never a raw id
    action: Mapped[str] = mapped_column(String(64))  # what was done to it, e.g. consent.grant
    purpose: Mapped[str | None] = mapped_column(String(64))
    ref_id: Mapped[int | None] = mapped_column()  # the record, e.g. the consent event's id
