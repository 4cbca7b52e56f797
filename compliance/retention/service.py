"""Retention sweep: erase or delete what is past its retention period.

Each batch is its own transaction holding both the change and its audit event, so a sweep
killed midway leaves whole batches done and nothing half-done; running it again finishes
the rest and reaches the same end state (it selects by condition, not by a saved cursor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.policy.schemas import PolicySet, RetentionRule
from compliance.subjects.models import Subject
from privacy.vault.service import Vault

ProgressFn = Callable[[str, int], None]


@dataclass
class SweepReport:
    started_at: datetime
    actions: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.actions.values())


def _digest(items: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()


class RetentionService:
    def __init__(self, db: Database, policies: PolicySet, *, actor: str = "retention") -> None:
        self.db = db
        self.policies = policies
        self.actor = actor

    def sweep(self, now: datetime | None = None, batch: int = 5000,
              progress: ProgressFn | None = None) -> SweepReport:
        now = now or utcnow()
        report = SweepReport(started_at=now)
        for rule in self.policies.retention:
            cutoff = now - timedelta(days=rule.after_days)
            step = self._erase_subjects if rule.scope == "subject" else self._delete_fields
            done = 0
            while True:
                n = step(rule, cutoff, now, batch)
                if n == 0:
                    break
                done += n
                report.batches += 1
                if progress:
                    progress(rule.key, n)
            report.actions[rule.key] = done
        with self.db.unit_of_work() as s:  # evidence that the (scheduled) sweep ran at all
            AuditLog(s).record("retention.swept", actor=self.actor, data={
                "actions": report.actions, "batches": report.batches,
                "started_at": now.isoformat()})
        return report

    def _erase_subjects(self, rule: RetentionRule, cutoff: datetime, now: datetime,
                        batch: int) -> int:
        with self.db.unit_of_work() as s:
            rows = s.execute(select(Subject.id, Subject.subject_key).where(
                Subject.erased_at.is_(None), Subject.last_activity_at < cutoff)
                .order_by(Subject.id).limit(batch)).all()
            if not rows:
                return 0
            ids = [r[0] for r in rows]
            Vault(s).shred(ids)
            s.execute(update(Subject).where(Subject.id.in_(ids)).values(erased_at=now))
            AuditLog(s).record("retention.erased", actor=self.actor, rule_id=rule.key, data={
                "subjects": len(ids), "cutoff": cutoff.isoformat(), "source": rule.source,
                "subjects_sha256": _digest([r[1] for r in rows])})
            return len(ids)

    def _delete_fields(self, rule: RetentionRule, cutoff: datetime, now: datetime,
                       batch: int) -> int:
        with self.db.unit_of_work() as s:
            vault = Vault(s)
            ids = vault.expired_fields(rule.field or "", cutoff, batch)
            if not ids:
                return 0
            vault.delete_fields(ids)
            AuditLog(s).record("retention.deleted", actor=self.actor, rule_id=rule.key, data={
                "field": rule.field, "records": len(ids), "cutoff": cutoff.isoformat(),
                "source": rule.source, "ids_sha256": _digest([str(i) for i in ids])})
            return len(ids)

    def overdue(self, now: datetime | None = None) -> dict[str, int]:
        with self.db.unit_of_work() as s:
            return overdue_counts(s, self.policies, now or utcnow())


def overdue_counts(session: Session, policies: PolicySet, now: datetime) -> dict[str, int]:
    """Records past retention still present, per rule (a DPO expects zero after a sweep)."""
    out: dict[str, int] = {}
    vault = Vault(session)
    for rule in policies.retention:
        cutoff = now - timedelta(days=rule.after_days)
        if rule.scope == "subject":
            out[rule.key] = int(session.scalar(select(func.count()).select_from(Subject).where(
                Subject.erased_at.is_(None), Subject.last_activity_at < cutoff)) or 0)
        else:
            out[rule.key] = vault.count_expired_fields(rule.field or "", cutoff)
    return out
