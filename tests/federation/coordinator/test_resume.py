"""A coordinator that dies mid-run resumes from its last completed round: nothing trained
twice, nothing gated twice, and the DP accountant counts every round the brands trained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.errors import ConflictError
from federation.coordinator.lineage.models import TrainingRound, TrainingRun
from federation.coordinator.lineage.service import LineageService
from federation.demo import prepare_alliance
from federation.runtime.simulation import simulate


class CoordinatorKilled(RuntimeError):
    pass


def _count(db: Database, action: str) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == action)) or 0)


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_coordinator_resumes_from_its_last_round(db: Database, tmp_path: Path,
                                                           api_url: str) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.15,
                                rounds=3, dp_epsilon=3.0).settings

    def die_after_round_two(_kind: str, done: int, _total: int) -> None:
        if done == 2:
            raise CoordinatorKilled("coordinator killed after round 2")

    with pytest.raises(CoordinatorKilled):
        simulate(settings, db, progress=die_after_round_two)
    with db.reading() as s:
        assert s.get(TrainingRun, settings.run_id).status == "failed"  # type: ignore[union-attr]
        kept = {r.round: r.weights_sha256 for r in s.scalars(select(TrainingRound))}
    assert sorted(kept) == [1, 2]
    decisions = _count(db, "gate.decision")

    outcome = simulate(settings, db)
    assert sorted(outcome.rounds) == [1, 2, 3]
    with db.reading() as s:
        run = s.get(TrainingRun, settings.run_id)
        assert run is not None and run.status == "completed"
        rounds = {r.round: r.weights_sha256 for r in s.scalars(select(TrainingRound))}
        resumed = s.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "training.resumed")).one()
        assert AuditLog(s).verify().verified
    assert {k: rounds[k] for k in kept} == kept and 3 in rounds  # rounds 1-2 not retrained
    assert resumed["from_round"] == 2 and resumed["weights_sha256"] == kept[2]
    assert _count(db, "gate.decision") == decisions  # the gate is checked, not re-audited
    dp = run.metrics["dp"]
    assert dp["round_attempts"] == 4  # 3 rounds and the one the crash may have cut short
    assert dp["steps"] > 0 and dp["steps"] % 4 == 0  # per-round steps times 4 rounds
    assert dp["epsilon"] > 3.0  # honest: more steps than planned cost more than the target


@pytest.mark.integration
def test_a_run_resumes_only_with_its_own_settings(db: Database, tmp_path: Path,
                                                  api_url: str) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.05,
                                rounds=2).settings
    with db.unit_of_work() as s:
        LineageService(s).start_run(settings, "fedavg")
    with db.unit_of_work() as s:
        point = LineageService(s).resume_run(settings)
        assert point is not None and point.rounds == {} and point.weights is None
    with pytest.raises(ConflictError, match="other settings"), db.unit_of_work() as s:
        LineageService(s).resume_run(replace(settings, rounds=5))
    with db.unit_of_work() as s:
        run = s.get(TrainingRun, settings.run_id)
        assert run is not None
        run.status = "completed"
    with pytest.raises(ConflictError, match="already completed"), db.unit_of_work() as s:
        LineageService(s).resume_run(settings)
