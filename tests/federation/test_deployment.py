"""The real deployment path: a SuperLink and three SuperNodes as processes on loopback,
with TLS and SuperNode authentication, running our ServerApp and ClientApp via `flwr run`,
the training sums through SecAgg+."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.audit.service import AuditLog
from compliance.database import Database
from federation.certificates import make_certificates
from federation.demo import prepare_alliance
from federation.deployment import LocalDeployment
from federation.lineage.models import ModelVersion, TrainingRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_round_through_superlink_and_three_supernodes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("COMITY_KEY_DIR", str(keys))
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    settings = prepare_alliance(db, tmp_path / "silos", seed=3, scale=0.15, rounds=1)
    certs = make_certificates(tmp_path / "certs", hosts=["localhost", "127.0.0.1"],
                              nodes=list(settings.brands))
    assert (certs.server_key.stat().st_mode & 0o777) == 0o600
    with LocalDeployment(tmp_path / "deploy", list(settings.brands), certificates=certs,
                         node_auth=True, env={"COMITY_KEY_DIR": str(keys)}) as dep:
        proc = dep.run(ROOT, {"database-url": db.url, "silo-root": settings.silo_root,
                              "brands": ",".join(settings.brands), "rounds": 1,
                              "run-id": settings.run_id,
                              "consent-as-of": settings.consent_as_of}, timeout=420)
        out = proc.stdout + proc.stderr
        assert "Secure aggregation completed." in out, out[-5000:]
        assert "Secure aggregation halted." not in out
        assert "TLS disabled" not in dep.log("superlink")
    with db.reading() as s:
        run = s.get(TrainingRun, settings.run_id)
        assert run is not None and run.status == "completed"
        assert run.metrics["secure_aggregation"] is True
        assert 0.5 < run.metrics["final"]["auc"] <= 1.0
        assert s.scalar(select(ModelVersion).where(ModelVersion.run_id == settings.run_id))
        assert AuditLog(s).verify().verified
