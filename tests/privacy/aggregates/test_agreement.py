"""Aggregates across the brands' silos obey the alliance agreement (PIPL Art. 20-21): a silo
of a brand that is not a party is refused with the rule id, before any brand is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.governance.errors import RunRefused
from compliance.policy.loader import load_policies
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService

from .conftest import CITIES

pytestmark = pytest.mark.integration


def _service(db: Database, customers: Path, brands: list[str]) -> AggregateService:
    asked: list[object] = []

    def secure_sum(plan: object) -> tuple[object, int]:
        asked.append(plan)
        raise AssertionError("no brand is asked once the agreement refuses")

    svc = AggregateService(db, load_policies(), secure_sum=secure_sum)  # type: ignore[arg-type]
    svc.register("alliance", customers, "cid", actor="test", bounds={"spend": (0.0, 1000.0)},
                 categories={"city": CITIES}, silos={b: customers for b in brands})
    svc.set_budget("service:growth", "alliance", 2.0, actor="test")
    return svc


def test_non_party_silo_is_refused_with_the_rule(db: Database, customers: Path) -> None:
    svc = _service(db, customers, ["lumen-tea", "stranger-shop"])
    q = AggregateQuery.model_validate({"dataset": "alliance", "measure": "count",
                                       "epsilon": 0.5, "federated": True})
    with pytest.raises(RunRefused) as exc:
        svc.query("service:growth", q)
    assert exc.value.rule_id == "alliance.art20.party" and exc.value.status_code == 403
    with db.reading() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "aggregate.refused")).one()
    assert ev.rule_id == "alliance.art20.party" and ev.data["reason"] == "agreement"
