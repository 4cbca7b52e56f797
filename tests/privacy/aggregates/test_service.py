"""The aggregate service end to end on a real SQLite database and a real Parquet file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.errors import ComityError, InputError
from privacy.aggregates.errors import BudgetExhausted, PolicyDenied
from privacy.aggregates.models import BudgetLedger, DpDataset, DpRelease
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService

from .conftest import CITIES, customers_frame


def _q(**kw: object) -> AggregateQuery:
    return AggregateQuery.model_validate({"dataset": "customers", "epsilon": 0.5, **kw})


def _actions(db: Database) -> list[str]:
    with db.reading() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


@pytest.mark.integration
def test_answer_spends_and_audits(service: AggregateService, db: Database) -> None:
    service.set_budget("service:growth", "customers", 1.0, actor="test")
    ans = service.query("service:growth", _q(measure="mean", column="spend",
                                             group_by=["city"]))
    assert [g.key["city"] for g in ans.groups] == sorted(CITIES)
    assert all(0 <= g.value <= 1000 and g.ci95[0] <= g.value <= g.ci95[1]  # type: ignore
               for g in ans.groups)
    assert ans.epsilon_spent == 0.5 and ans.epsilon_remaining == 0.5
    assert {n["statistic"] for n in ans.noise} == {"len", "spend"}
    assert _actions(db)[-3:] == ["dataset.register", "budget.set", "aggregate.release"]
    with db.reading() as s:
        rel = s.scalars(select(DpRelease)).one()
        assert (rel.epsilon_micro, rel.groups_released) == (500_000, 3)
        assert AuditLog(s).verify().verified


@pytest.mark.integration
def test_budget_refusal_is_429_audited_and_spends_nothing(service: AggregateService,
                                                          db: Database) -> None:
    service.set_budget("service:growth", "customers", 0.6, actor="test")
    service.query("service:growth", _q(measure="count"))
    with pytest.raises(BudgetExhausted) as info:
        service.query("service:growth", _q(measure="count"))
    assert info.value.status_code == 429
    assert info.value.details["epsilon_remaining"] == pytest.approx(0.1)
    with db.reading() as s:
        led = s.scalars(select(BudgetLedger)).one()
        assert (led.spent_micro, led.releases, led.refusals) == (500_000, 1, 1)
        assert s.scalar(select(func.count()).select_from(DpRelease)) == 1
    assert _actions(db)[-1] == "aggregate.refused"


@pytest.mark.integration
def test_default_limit_comes_from_policy(service: AggregateService) -> None:
    ans = service.query("service:other", _q(measure="count", epsilon=1.0))
    assert ans.epsilon_remaining == pytest.approx(3.0)  # policies/aggregates.yaml: 4.0


@pytest.mark.integration
def test_policy_engine_decides_the_requester(service: AggregateService, db: Database) -> None:
    with pytest.raises(PolicyDenied, match="other_roles"):
        service.query("brand:brand-a", _q(measure="count"))
    with pytest.raises(InputError, match="unknown purpose"):
        service.query("service:growth", _q(measure="count", purpose="nope"))
    with pytest.raises(PolicyDenied, match="minimum_necessary"):
        service.query("service:growth", _q(measure="mean", column="spend", purpose="marketing"))
    assert _actions(db)[-1] == "aggregate.refused"


@pytest.mark.integration
def test_registration_checks_without_inferring(db: Database, tmp_path: Path,
                                               service: AggregateService) -> None:
    dup = tmp_path / "dup.csv"
    pl.concat([customers_frame(50), customers_frame(5)]).write_csv(dup)
    with pytest.raises(InputError, match="repeat a value of 'cid'"):
        service.register("dup", dup, "cid", actor="test")
    with pytest.raises(InputError, match="not a numeric column"):
        service.register("dup", dup, "cid", actor="test", max_rows_per_unit=2,
                         bounds={"city": (0, 1)})
    with pytest.raises(InputError, match="no such file"):
        service.register("x", tmp_path / "missing.parquet", "cid", actor="test")
    spec = service.register("dup", dup, "cid", actor="test", max_rows_per_unit=2)
    assert spec.columns["spend"].bounds is None and spec.columns["city"].categories is None
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(DpDataset)) == 2


@pytest.mark.integration
def test_changed_source_is_refused_before_spending(service: AggregateService,
                                                   customers: Path, db: Database) -> None:
    pl.concat([customers_frame(100), customers_frame(100)]).write_parquet(customers)
    with pytest.raises(ComityError, match="repeat") as info:
        service.query("service:growth", _q(measure="count"))
    assert info.value.status_code == 409
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(DpRelease)) == 0
