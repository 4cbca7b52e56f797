"""Faults on the real deployment path (SuperLink and three SuperNodes as processes, TLS and
node authentication): a brand's SuperNode killed mid-run and brought back, then the
coordinator (the ServerApp process) killed and the run submitted again. The run must
finish with every round trained exactly once, and the audit log must say what happened."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.local_server import LocalApi
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from federation.coordinator.lineage.models import TrainingRound, TrainingRun
from federation.demo import prepare_alliance
from federation.runtime.certificates import make_certificates
from federation.runtime.deployment import LocalDeployment
from federation.runtime.training import run_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 3  # the fewest that leave a round after the coordinator is killed


def _rounds(db: Database, run_id: str) -> list[int]:
    with db.reading() as s:
        return list(s.scalars(select(TrainingRound.round).where(TrainingRound.run_id == run_id)
                              .order_by(TrainingRound.round)))


def _events(db: Database, action: str) -> list[dict]:
    with db.reading() as s:
        return list(s.scalars(select(AuditEvent.data).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)))


def _wait(what: str, cond: Callable[[], bool], proc: subprocess.Popen[str],
          timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"flwr run ended before {what}:\n{out[-4000:]}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_supernode_and_coordinator_killed_mid_run(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("COMITY_KEY_DIR", str(keys))
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    api = LocalApi(db).__enter__()
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api.url, seed=4, scale=0.15,
                                rounds=ROUNDS)
    settings = alliance.settings
    run_id = settings.run_id
    certs = make_certificates(tmp_path / "certs", hosts=["localhost", "127.0.0.1"])
    config = {k: v for k, v in run_config(settings, "fedavg").items()
              if k != "consent-as-of"}  # a restarted run keeps the time it began with
    victim = settings.brands[1]
    with LocalDeployment(tmp_path / "deploy", alliance.configs, certificates=certs,
                         node_auth=True,
                         coordinator_env={"COMITY_KEY_DIR": str(keys),
                                          "COMITY_DATABASE_URL": db.url}) as dep:
        first = dep.submit(ROOT, config)
        _wait("round 1", lambda: len(_rounds(db, run_id)) >= 1, first, 420)
        dep.kill_node(victim)
        # The SuperLink declares the node offline after its heartbeats stop (about a
        # minute); SecAgg+ then either sums the other two brands or halts and the
        # coordinator retries the round once the node is back.
        _wait("the next round to finish or fail",
              lambda: len(_rounds(db, run_id)) >= 2 or bool(_events(db, "training.round_failed")),
              first, 420)
        dep.restart_node(victim)
        _wait("round 2", lambda: len(_rounds(db, run_id)) >= 2, first, 420)
        assert dep.kill_serverapp() >= 1
        try:
            first.wait(timeout=120)
        except subprocess.TimeoutExpired:
            first.kill()
        done_before = _rounds(db, run_id)
        assert done_before[-1] < ROUNDS, "the run finished before the coordinator was killed"
        second = dep.submit(ROOT, config)  # same run id, no consent time: resume
        out, _ = second.communicate(timeout=600)
        assert second.returncode == 0, out[-4000:]
    with db.reading() as s:
        run = s.get(TrainingRun, run_id)
        assert run is not None and run.status == "completed", out[-4000:]
        assert run.metrics["secure_aggregation"] is True
        assert AuditLog(s).verify().verified
        starts = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "training.started"))
    assert _rounds(db, run_id) == list(range(1, ROUNDS + 1))  # each round exactly once
    (resumed,) = _events(db, "training.resumed")
    assert resumed["from_round"] == done_before[-1] and starts == 1
    failed = [e for e in _events(db, "training.round_failed") if e["run_id"] == run_id]
    with db.reading() as s:
        retried = {r.round: r.attempts for r in s.scalars(select(TrainingRound))}
    # Either SecAgg+ tolerated the dropped brand (round 2 summed over two brands), or the
    # round halted, was audited as failed and succeeded on a later attempt.
    assert all(retried[e["round"]] > e["attempt"] for e in failed)
    print(f"faults survived: supernode killed (round failures audited: {len(failed)}), "
          f"coordinator killed after round {done_before[-1]}, resumed to round {ROUNDS}")
