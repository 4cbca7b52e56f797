"""The ledger: exact micro-epsilon arithmetic, periods, and atomic spending under contention."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.loader import load_policies
from privacy.aggregates.ledger import Ledger, period_key, to_micro
from privacy.aggregates.models import BudgetLedger
from privacy.aggregates.registry import Registry

POLICY = load_policies().aggregates


@pytest.mark.unit
def test_micro_epsilon_rounds_up() -> None:
    assert to_micro(0.1) == 100_000
    assert to_micro(1e-7) == 1
    assert to_micro(0.3) == 300_000


@pytest.mark.unit
def test_period_keys() -> None:
    at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert [period_key(p, at) for p in ("day", "week", "month", "quarter", "year", "total")] \
        == ["2026-11-23", "2026-W48", "2026-11", "2026-Q4", "2026", "total"]
    with pytest.raises(InputError, match="unknown period"):
        period_key("fortnight", at)


def _contend(db: Database, customers: Path, workers: int, attempts: int) -> tuple[int, int]:
    with db.unit_of_work() as s:
        ds_id = Registry(s, load_policies()).register("customers", customers, "cid",
                                                      actor="test").version
        Ledger(s, POLICY).set_limit("service:x", ds_id, 1.0, "month", datetime.now(UTC))

    def spend(_: int) -> bool:
        with db.unit_of_work() as s:
            return Ledger(s, POLICY).spend("service:x", ds_id, to_micro(0.3),
                                           datetime.now(UTC)).ok

    with ThreadPoolExecutor(max_workers=workers) as pool:
        ok = sum(pool.map(spend, range(attempts)))
    with db.reading() as s:
        spent = s.scalar(select(func.sum(BudgetLedger.spent_micro)))
    return ok, int(spent or 0)


@pytest.mark.integration
def test_concurrent_spends_never_pass_the_limit_on_sqlite(db: Database, customers: Path) -> None:
    ok, spent = _contend(db, customers, workers=16, attempts=80)
    assert ok == 3
    assert spent == 900_000


@pytest.mark.integration
@pytest.mark.postgres
def test_concurrent_spends_never_pass_the_limit_on_postgres(postgres_url: str,
                                                            customers: Path) -> None:
    db = Database(postgres_url)
    try:
        ok, spent = _contend(db, customers, workers=16, attempts=80)
    finally:
        db.dispose()
    assert ok == 3
    assert spent == 900_000
