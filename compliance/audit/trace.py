"""The 7-day trace: every processing event of one subject, one training run or one actor in
a recent window, with its rule, actor, data categories and evidence digest.

The source documents ask that any processing event be traceable to its rule, actor and data
within a week's log (PIPL Art. 54 compliance audits; GDPR Art. 5(2) accountability and
Art. 30 records). The trace reads the audit log itself, never a copy: each line's
`evidence_digest` is the event's chained hash, which `comity audit proof SEQ` turns into an
inclusion proof under a signed checkpoint. Lookups go through the indexes of migration 0009
(actor, and the `subject` / `run_id` keys of the event's data), so a trace on a log of
millions of events reads only the events it returns. An event over many subjects (a consent
import's batch: one event, thousands of consent events) names them in `audit_subjects`
(migration 0012) instead: a subject's trace reads that index too, a line per record.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, literal_column, or_, select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent, AuditSubject
from compliance.database import utcnow
from compliance.errors import InputError

TraceBy = Literal["subject", "run", "actor"]
DATA_KEYS: dict[str, str] = {"subject": "subject", "run": "run_id"}
MAX_LIMIT = 10_000
_WINDOW = re.compile(r"^(\d{1,5})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# Data categories an action processes by its nature, where the event names no purpose.
_ACTION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "request.": ("customer_id",),
    "pii.": ("customer_id",),
    "retention.erased": ("customer_id",),
}


def parse_window(value: str) -> timedelta:
    """'7d', '24h' or '90m' (the documents' traceability window is 7 days)."""
    m = _WINDOW.match(value.strip())
    if not m or int(m.group(1)) == 0:
        raise InputError(f"window '{value[:20]}' is not N followed by d, h or m (e.g. 7d)",
                         column="since")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def data_key(session: Session, key: str) -> ColumnElement[Any]:
    """`data.<key>` as text, spelled exactly as the index of migration 0009 so that the
    planner uses it (SQLite matches index expressions literally, bound paths never)."""
    if key not in DATA_KEYS.values():
        raise ValueError(f"no trace index on data key {key}")
    if session.get_bind().dialect.name == "postgresql":
        return literal_column(f"(audit_events.data ->> '{key}')", String)
    return literal_column(f"json_extract(audit_events.data, '$.{key}')", String)


@dataclass(frozen=True)
class TraceLine:
    seq: int
    occurred_at: datetime
    action: str
    actor: str
    brand_id: str | None
    rule_id: str | None
    purpose: str | None
    data_categories: list[str]
    evidence_digest: str
    evidence: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "occurred_at": self.occurred_at.isoformat(),
                "action": self.action, "actor": self.actor, "brand_id": self.brand_id,
                "rule_id": self.rule_id, "purpose": self.purpose,
                "data_categories": self.data_categories,
                "evidence_digest": self.evidence_digest, "evidence": self.evidence}


@dataclass
class Trace:
    by: TraceBy
    value: str
    since: datetime
    lines: list[TraceLine] = field(default_factory=list)
    truncated: bool = False
    elapsed_ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "value": self.value, "since": self.since.isoformat(),
                "count": len(self.lines), "truncated": self.truncated,
                "next_after": self.lines[-1].seq if self.truncated and self.lines else None,
                "elapsed_ms": round(self.elapsed_ms, 2),
                "events": [line.as_json() for line in self.lines]}


def _evidence(data: dict[str, Any]) -> dict[str, Any]:
    """The digests and identifiers an event carries as its evidence (never personal data:
    events hold pseudonyms, counts and hashes only)."""
    keep = ("run_id", "request_id", "release_id", "event_id", "dataset", "experiment",
            "reveal_id", "field", "allowed", "round")
    out = {k: v for k, v in data.items() if k in keep}
    out.update({k: v for k, v in data.items()
                if isinstance(v, str) and (k.endswith("_sha256") or k.endswith("_digest"))})
    return out


class TraceService:
    """`purposes` maps each purpose to the data categories it may use (required and
    optional, policies/purposes.yaml; `purpose_categories`): the audit log sits below the
    policy engine and does not read it itself."""

    def __init__(self, session: Session,
                 purposes: Mapping[str, Sequence[str]] | None = None) -> None:
        self.session = session
        self.purposes = purposes or {}

    def _categories(self, action: str, data: dict[str, Any]) -> list[str]:
        """The data categories the event processed: named in the event, else those its
        purpose may use, else those its action implies."""
        named = data.get("categories")
        if isinstance(named, list) and named:
            return sorted(str(c) for c in named)
        if isinstance(data.get("category"), str):
            return [data["category"]]
        purpose = data.get("purpose")
        if isinstance(purpose, str) and purpose in self.purposes:
            return sorted(set(self.purposes[purpose]))
        for prefix, cats in _ACTION_CATEGORIES.items():
            if action.startswith(prefix):
                return list(cats)
        return []

    def trace(self, by: TraceBy, value: str, *, since: str | timedelta = "7d",
              brand_id: str | None = None, limit: int = 1000, after: int = 0,
              now: datetime | None = None) -> Trace:
        """Events for `value` since `now - since`, oldest first, at most `limit` of them
        (then `truncated`, and `after=next_after` reads on)."""
        if not value or len(value) > 160:
            raise InputError(f"give the {by} to trace (at most 160 characters)", column=by)
        if not 1 <= limit <= MAX_LIMIT:
            raise InputError(f"limit must be between 1 and {MAX_LIMIT}", column="limit")
        window = parse_window(since) if isinstance(since, str) else since
        start = (now or utcnow()) - window
        t0 = time.perf_counter()
        cond: ColumnElement[bool]
        if by == "actor":
            # the actor as recorded (`role#token`), or every token of a role
            cond = (AuditEvent.actor == value if "#" in value else
                    or_(AuditEvent.actor == value,
                        and_(AuditEvent.actor > value + "#", AuditEvent.actor < value + "$")))
        elif by in DATA_KEYS:
            cond = data_key(self.session, DATA_KEYS[by]) == value
        else:
            raise InputError(f"cannot trace by '{by}' (subject, run or actor)", column="by")
        stmt = (select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.action,
                       AuditEvent.actor, AuditEvent.brand_id, AuditEvent.rule_id,
                       AuditEvent.data, AuditEvent.hash)
                .where(cond, AuditEvent.occurred_at >= start, AuditEvent.seq > after)
                .order_by(AuditEvent.seq).limit(limit + 1))
        if brand_id is not None:
            stmt = stmt.where(AuditEvent.brand_id == brand_id)
        lines: list[tuple[int, int, TraceLine]] = []
        for seq, at, action, actor, brand, rule, data, digest in self.session.execute(stmt):
            data = data if isinstance(data, dict) else {}
            purpose = data.get("purpose")
            lines.append((seq, 0, TraceLine(
                seq=seq, occurred_at=at, action=action, actor=actor, brand_id=brand,
                rule_id=rule, purpose=purpose if isinstance(purpose, str) else None,
                data_categories=self._categories(action, data), evidence_digest=digest,
                evidence=_evidence(data))))
        if by == "subject":
            lines.extend(self._indexed(value, start, after, brand_id, limit))
            lines.sort(key=lambda t: (t[0], t[1]))
        out = Trace(by=by, value=value, since=start, truncated=len(lines) > limit)
        kept = lines[:limit]
        if out.truncated and len(kept) > 1 and kept[-1][0] == lines[limit][0]:
            # `after` pages by seq: an event's lines stay on one page
            whole = [t for t in kept if t[0] != lines[limit][0]]
            kept = whole or kept
        out.lines = [line for _, _, line in kept]
        out.elapsed_ms = (time.perf_counter() - t0) * 1000
        return out

    def _indexed(self, subject: str, start: datetime, after: int, brand_id: str | None,
                 limit: int) -> list[tuple[int, int, TraceLine]]:
        """The subject's lines from events that name many subjects (`audit_subjects`), one
        per record (e.g. each consent event of an import batch), through the index on
        (subject, seq)."""
        stmt = (select(AuditSubject.seq, AuditSubject.id, AuditEvent.occurred_at,
                       AuditSubject.action, AuditEvent.actor, AuditSubject.brand_id,
                       AuditEvent.rule_id, AuditSubject.purpose, AuditSubject.ref_id,
                       AuditEvent.hash)
                .join(AuditEvent, AuditEvent.seq == AuditSubject.seq)
                .where(AuditSubject.subject == subject, AuditSubject.seq > after,
                       AuditEvent.occurred_at >= start)
                .order_by(AuditSubject.seq, AuditSubject.id).limit(limit + 1))
        if brand_id is not None:
            stmt = stmt.where(AuditSubject.brand_id == brand_id)
        return [(seq, rid, TraceLine(
            seq=seq, occurred_at=at, action=action, actor=actor, brand_id=brand, rule_id=rule,
            purpose=purpose, data_categories=self._categories(action, {"purpose": purpose}),
            evidence_digest=digest, evidence={} if ref is None else {"event_id": ref}))
            for seq, rid, at, action, actor, brand, rule, purpose, ref, digest
            in self.session.execute(stmt)]
