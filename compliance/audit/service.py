"""Appends audit events in the caller's transaction and verifies the stored chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from compliance.audit.chain import (
    GENESIS_HASH,
    ChainedEvent,
    VerifyResult,
    event_hash,
    verify_chain,
)
from compliance.audit.models import AuditEvent
from compliance.database import utcnow

_PG_AUDIT_LOCK = 0x636F6D69  # advisory lock id: one appender at a time on PostgreSQL


class AuditLog:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _head(self) -> tuple[int, str]:
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
        row = self.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def record(self, action: str, *, actor: str, data: dict[str, Any] | None = None,
               brand_id: str | None = None, rule_id: str | None = None,
               occurred_at: datetime | None = None) -> AuditEvent:
        """Write one event. `data` must hold no raw personal data: pseudonyms, counts, hashes."""
        return self.record_many([(action, data or {}, brand_id, rule_id)], actor=actor,
                                occurred_at=occurred_at)[0]

    def record_many(self, items: list[tuple[str, dict[str, Any], str | None, str | None]], *,
                    actor: str, occurred_at: datetime | None = None) -> list[AuditEvent]:
        seq, prev = self._head()
        at = occurred_at or utcnow()
        out: list[AuditEvent] = []
        for action, data, brand_id, rule_id in items:
            seq += 1
            h = event_hash(prev, seq, at, actor, action, brand_id, rule_id, data)
            ev = AuditEvent(seq=seq, occurred_at=at, actor=actor, action=action,
                            brand_id=brand_id, rule_id=rule_id, data=data, prev_hash=prev, hash=h)
            out.append(ev)
            prev = h
        self.session.add_all(out)
        self.session.flush()
        return out

    def verify(self, batch: int = 50_000) -> VerifyResult:
        def stream() -> Any:
            last = 0
            while True:
                rows = self.session.execute(
                    select(AuditEvent).where(AuditEvent.seq > last)
                    .order_by(AuditEvent.seq).limit(batch)
                ).scalars().all()
                if not rows:
                    return
                for r in rows:
                    yield ChainedEvent(r.seq, r.occurred_at, r.actor, r.action, r.brand_id,
                                       r.rule_id, r.data, r.prev_hash, r.hash)
                last = rows[-1].seq
                self.session.expunge_all()

        return verify_chain(stream())

    def count(self) -> int:
        from sqlalchemy import func

        return int(self.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
