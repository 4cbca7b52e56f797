"""The persistent privacy-budget ledger: one row per (requester, dataset, period).

OpenDP contexts keep their budget in memory only. Here a spend is one conditional UPDATE
(`spent + e <= limit`) in the transaction that records the release, so concurrent requests can
never push a ledger past its limit: SQLite runs write transactions one at a time, and
PostgreSQL re-checks the condition on the locked row (READ COMMITTED update semantics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from compliance.audit import anchors
from compliance.errors import InputError
from compliance.policy.schemas import AggregatesPolicy
from privacy.aggregates.models import BudgetLedger, DpDataset, PrivacyBudget
from privacy.aggregates.schemas import BudgetView

MICRO = 1_000_000
PERIODS = ("day", "week", "month", "quarter", "year", "total")


def to_micro(epsilon: float) -> int:
    """Rounded up, so that rounding never lets a release cost less than it says."""
    micro = epsilon * MICRO
    return int(micro) + (0 if micro == int(micro) else 1)


def period_key(period: str, at: datetime) -> str:
    if period == "day":
        return at.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return at.strftime("%Y-%m")
    if period == "quarter":
        return f"{at.year}-Q{(at.month - 1) // 3 + 1}"
    if period == "year":
        return str(at.year)
    if period == "total":
        return "total"
    raise InputError(f"unknown period '{period}' (one of {', '.join(PERIODS)})", column="period")


@dataclass(frozen=True)
class Spend:
    ok: bool
    ledger_id: int
    period_key: str
    limit_micro: int
    spent_micro: int

    @property
    def remaining(self) -> float:
        return (self.limit_micro - self.spent_micro) / MICRO


class Ledger:
    def __init__(self, session: Session, policy: AggregatesPolicy) -> None:
        self.session = session
        self.policy = policy

    def limit_for(self, requester: str, dataset_id: int) -> tuple[str, int]:
        row = self.session.execute(
            select(PrivacyBudget.period, PrivacyBudget.limit_micro)
            .where(PrivacyBudget.requester == requester, PrivacyBudget.dataset_id == dataset_id)
        ).first()
        if row is None:
            return self.policy.default_period, to_micro(self.policy.default_limit_epsilon)
        return row[0], row[1]

    def set_limit(self, requester: str, dataset_id: int, epsilon: float, period: str,
                  at: datetime) -> None:
        period_key(period, at)
        if not 0 < epsilon <= self.policy.max_limit_epsilon:
            raise InputError(f"epsilon limit {epsilon:g} must be in (0, "
                             f"{self.policy.max_limit_epsilon:g}] (policies/aggregates.yaml)",
                             column="epsilon")
        limit = to_micro(epsilon)
        existing = self.session.execute(
            select(PrivacyBudget).where(PrivacyBudget.requester == requester,
                                        PrivacyBudget.dataset_id == dataset_id)
        ).scalar_one_or_none()
        if existing is None:
            self.session.add(PrivacyBudget(requester=requester, dataset_id=dataset_id,
                                           period=period, limit_micro=limit, updated_at=at))
        else:
            existing.period, existing.limit_micro, existing.updated_at = period, limit, at
        changed = self.session.scalars(
            update(BudgetLedger)
            .where(BudgetLedger.requester == requester, BudgetLedger.dataset_id == dataset_id,
                   BudgetLedger.period_key == period_key(period, at))
            .values(limit_micro=limit, period=period).returning(BudgetLedger.id)).all()
        anchors.touch(self.session, "budget_ledgers", changed)
        self.session.flush()

    def open_period(self, requester: str, dataset_id: int, at: datetime) -> str:
        """The ledger row of the current period, created at the limit in force now."""
        period, limit = self.limit_for(requester, dataset_id)
        key = period_key(period, at)
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.session.execute(
            insert(BudgetLedger)
            .values(requester=requester, dataset_id=dataset_id, period=period, period_key=key,
                    limit_micro=limit, spent_micro=0, releases=0, refusals=0)
            .on_conflict_do_nothing(index_elements=["requester", "dataset_id", "period_key"]))
        return key

    def _state(self, requester: str, dataset_id: int, key: str) -> tuple[int, int, int]:
        row = self.session.execute(
            select(BudgetLedger.id, BudgetLedger.limit_micro, BudgetLedger.spent_micro)
            .where(BudgetLedger.requester == requester, BudgetLedger.dataset_id == dataset_id,
                   BudgetLedger.period_key == key)).one()
        return row[0], row[1], row[2]

    def peek(self, requester: str, dataset_id: int, at: datetime) -> float:
        """Remaining epsilon, read-only: lets a request be refused before any computation."""
        period, limit = self.limit_for(requester, dataset_id)
        row = self.session.execute(
            select(BudgetLedger.spent_micro, BudgetLedger.limit_micro)
            .where(BudgetLedger.requester == requester, BudgetLedger.dataset_id == dataset_id,
                   BudgetLedger.period_key == period_key(period, at))).first()
        return (limit if row is None else row[1] - row[0]) / MICRO

    def spend(self, requester: str, dataset_id: int, epsilon_micro: int, at: datetime) -> Spend:
        key = self.open_period(requester, dataset_id, at)
        cond = (BudgetLedger.requester == requester, BudgetLedger.dataset_id == dataset_id,
                BudgetLedger.period_key == key)
        done = self.session.execute(
            update(BudgetLedger)
            .where(*cond, BudgetLedger.spent_micro + epsilon_micro <= BudgetLedger.limit_micro)
            .values(spent_micro=BudgetLedger.spent_micro + epsilon_micro,
                    releases=BudgetLedger.releases + 1))
        ok = done.rowcount == 1  # type: ignore[attr-defined]
        if not ok:
            self.session.execute(update(BudgetLedger).where(*cond)
                                 .values(refusals=BudgetLedger.refusals + 1))
        ledger_id, limit, spent = self._state(requester, dataset_id, key)
        anchors.touch(self.session, "budget_ledgers", [ledger_id])
        return Spend(ok=ok, ledger_id=ledger_id, period_key=key, limit_micro=limit,
                     spent_micro=spent)

    def refuse(self, requester: str, dataset_id: int, at: datetime) -> Spend:
        """Count a refusal decided before any spend was tried (pre-check)."""
        key = self.open_period(requester, dataset_id, at)
        self.session.execute(
            update(BudgetLedger)
            .where(BudgetLedger.requester == requester, BudgetLedger.dataset_id == dataset_id,
                   BudgetLedger.period_key == key)
            .values(refusals=BudgetLedger.refusals + 1))
        ledger_id, limit, spent = self._state(requester, dataset_id, key)
        anchors.touch(self.session, "budget_ledgers", [ledger_id])
        return Spend(ok=False, ledger_id=ledger_id, period_key=key, limit_micro=limit,
                     spent_micro=spent)


def budget_views(session: Session, requester: str | None) -> list[BudgetView]:
    """Every ledger (of one requester, or all), oldest period first."""
    stmt = (select(BudgetLedger, DpDataset.name)
            .join(DpDataset, DpDataset.id == BudgetLedger.dataset_id)
            .order_by(BudgetLedger.requester, DpDataset.name, BudgetLedger.period_key))
    if requester is not None:
        stmt = stmt.where(BudgetLedger.requester == requester)
    out = []
    for led, name in session.execute(stmt):
        out.append(BudgetView(
            requester=led.requester, dataset=name, period=led.period,
            period_key=led.period_key, limit_epsilon=led.limit_micro / MICRO,
            spent_epsilon=led.spent_micro / MICRO,
            remaining_epsilon=(led.limit_micro - led.spent_micro) / MICRO,
            releases=led.releases, refusals=led.refusals))
    return out
