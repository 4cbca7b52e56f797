"""What backs a figure in the report: the audit events it was counted from.

A DPO (or an auditor) re-derives a figure's evidence digest from the exported audit log:
SHA-256 over the chain hashes of the named events, one per line, in sequence order. The
chain itself is verified separately, so a matching digest ties the figure to untampered
events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from compliance.audit.models import AuditEvent


@dataclass(frozen=True)
class Window:
    """The stretch of time a report covers: [start, end); None leaves that side open."""
    start: datetime | None = None
    end: datetime | None = None

    def clause(self, column: InstrumentedAttribute[datetime]) -> ColumnElement[bool]:
        cond: ColumnElement[bool] = true()
        if self.start is not None:
            cond = cond & (column >= self.start)
        if self.end is not None:
            cond = cond & (column < self.end)
        return cond

    def contains(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


def evidence(session: Session, actions: Sequence[str], window: Window,
             brand_id: str | None = None) -> dict[str, Any]:
    """Count, sequence range and digest of the audit events behind one figure."""
    stmt = (select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.action.in_(actions), window.clause(AuditEvent.occurred_at))
            .order_by(AuditEvent.seq))
    if brand_id is not None:
        stmt = stmt.where(AuditEvent.brand_id == brand_id)
    h = hashlib.sha256()
    first = last = None
    n = 0
    for seq, digest in session.execute(stmt):
        h.update(f"{digest}\n".encode())
        first = seq if first is None else first
        last = seq
        n += 1
    return {"actions": list(actions), "events": n, "first_seq": first, "last_seq": last,
            "sha256": h.hexdigest()}
