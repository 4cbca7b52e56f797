"""A/B readouts: DP per arm with intervals and the difference to control, charged to the
service's budget, refused while an arm is below the minimum size."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database, utcnow
from compliance.errors import ConflictError, InputError
from compliance.policy.loader import load_policies
from compliance.tokens.service import ForbiddenError
from privacy.aggregates.service import AggregateService
from privacy.experiments.schemas import ExperimentIn
from privacy.experiments.service import ArmTooSmall, ExperimentService

SVC = "service:growth"


def _frame(sizes: dict[str, int], rates: dict[str, float], seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    arms = [a for a, n in sizes.items() for _ in range(n)]
    conv = [float(rng.random() < rates[a]) for a in arms]
    spend = [float(c * rng.uniform(50, 300)) for c in conv]
    return pl.DataFrame({"cid": [f"c{i:06d}" for i in range(len(arms))], "arm": arms,
                         "converted": conv, "spend": spend})


def _setup(db: Database, tmp_path: Path, sizes: dict[str, int]) -> ExperimentService:
    path = tmp_path / "ab.parquet"
    _frame(sizes, {"control": 0.10, "coupon": 0.20, "tiny": 0.1}).write_parquet(path)
    policies = load_policies()
    agg = AggregateService(db, policies)
    agg.register("ab", path, "cid", actor="test",
                 bounds={"converted": (0.0, 1.0), "spend": (0.0, 500.0)},
                 categories={"arm": sorted(sizes)})
    agg.set_budget(SVC, "ab", 10.0, actor="test")
    return ExperimentService(db, policies, agg)


def _body(arms: list[str], **kw: object) -> ExperimentIn:
    now = utcnow()
    return ExperimentIn.model_validate({
        "key": "coupon-1", "dataset": "ab", "assignment_col": "arm", "arms": arms,
        "control_arm": "control", "conversion_col": "converted", "spend_col": "spend",
        "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=6), **kw})


def test_readout_per_arm_with_difference_and_budget_spent(db: Database, tmp_path: Path
                                                          ) -> None:
    svc = _setup(db, tmp_path, {"control": 3000, "coupon": 3000})
    svc.register(SVC, _body(["control", "coupon"]), actor=SVC + "#1")
    out = svc.readout(SVC, "coupon-1", 3.0, actor=SVC + "#1")
    assert [a.arm for a in out.arms] == ["control", "coupon"] and out.arms[0].control
    for a in out.arms:
        assert abs(a.subjects - 3000) < 50
        lo, hi = a.conversion.ci95
        assert lo < a.conversion.value < hi
    (d,) = out.differences
    assert d.arm == "coupon" and d.conversion.ci95[0] > 0  # 10% vs 20%: clearly positive
    assert d.mean_spend is not None
    assert out.epsilon_spent == pytest.approx(3.0) and out.epsilon_remaining == pytest.approx(7.0)
    assert len(out.release_ids) == 3
    with db.reading() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions.count("aggregate.release") == 3 and actions[-1] == "experiment.readout"


def test_readout_is_refused_while_an_arm_is_small(db: Database, tmp_path: Path) -> None:
    svc = _setup(db, tmp_path, {"control": 3000, "coupon": 3000, "tiny": 200})
    svc.register(SVC, _body(["control", "coupon", "tiny"]), actor=SVC + "#1")
    with pytest.raises(ArmTooSmall, match="tiny"):
        svc.readout(SVC, "coupon-1", 3.0, actor=SVC + "#1")
    with db.reading() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions[-1] == "experiment.readout_refused"
    assert actions.count("aggregate.release") == 1  # only the arm sizes were released


def test_a_control_arm_is_required_and_columns_checked(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="control"):
        _body(["coupon", "other"])
    svc = _setup(db, tmp_path, {"control": 1500, "coupon": 1500})
    with pytest.raises(InputError, match="assignment_col|categories"):
        svc.register(SVC, _body(["control", "coupon"], assignment_col="cid"), actor="x")
    with pytest.raises(InputError, match="bounds"):
        svc.register(SVC, _body(["control", "coupon"], conversion_col="spend"), actor="x")
    svc.register(SVC, _body(["control", "coupon"]), actor="x")
    with pytest.raises(ConflictError):
        svc.register(SVC, _body(["control", "coupon"]), actor="x")
    with pytest.raises(ForbiddenError):
        svc.readout("service:other", "coupon-1", 1.0, actor="x")
