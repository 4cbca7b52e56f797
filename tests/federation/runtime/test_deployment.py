"""The real deployment path: a SuperLink and three SuperNodes as processes on loopback,
with TLS and SuperNode authentication, running our ServerApp and ClientApp via `flwr run`,
the training sums through SecAgg+."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from api.local_server import LocalApi
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from federation.brand.wire_mod import CAPTURE_ENV
from federation.coordinator.lineage.models import ModelVersion, TrainingRun
from federation.data.features import CHURN_FEATURES
from federation.demo import prepare_alliance
from federation.gate.wire import STRING_FIELDS
from federation.models.churn import build_model
from federation.runtime.certificates import make_certificates
from federation.runtime.deployment import LocalDeployment
from federation.runtime.training import run_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def test_round_through_superlink_and_three_supernodes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("COMITY_KEY_DIR", str(keys))
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    api = LocalApi(db).__enter__()
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api.url, seed=3, scale=0.15,
                                rounds=1)
    settings = alliance.settings
    certs = make_certificates(tmp_path / "certs", hosts=["localhost", "127.0.0.1"])
    assert (certs.server_key.stat().st_mode & 0o777) == 0o600
    wire = tmp_path / "wire"
    with LocalDeployment(tmp_path / "deploy", alliance.configs, certificates=certs,
                         node_auth=True,
                         coordinator_env={"COMITY_KEY_DIR": str(keys),
                                          "COMITY_DATABASE_URL": db.url},
                         brand_env={CAPTURE_ENV: str(wire)}) as dep:
        proc = dep.run(ROOT, run_config(settings, "fedavg"), timeout=420)
        out = proc.stdout + proc.stderr
        assert "Secure aggregation completed." in out, out[-5000:]
        assert "Secure aggregation halted." not in out
        assert "TLS disabled" not in dep.log("superlink")
    api.__exit__(None, None, None)
    with db.reading() as s:
        run = s.get(TrainingRun, settings.run_id)
        assert run is not None and run.status == "completed"
        assert run.metrics["secure_aggregation"] is True
        assert 0.5 < run.metrics["final"]["auc"] <= 1.0
        assert s.scalar(select(ModelVersion).where(ModelVersion.run_id == settings.run_id))
        assert AuditLog(s).verify().verified
        (summary,) = s.scalars(select(AuditEvent.data).where(AuditEvent.action == "wire.audit"))
    assert summary["violations"] == 0 and summary["messages"] >= 3 * 4
    _assert_only_tensors_and_metrics(wire, list(settings.brands))


def _assert_only_tensors_and_metrics(wire: Path, brands: list[str]) -> None:
    """Everything each SuperNode let out: model-shaped masked tensors, scalar metrics, SecAgg+
    key material and the declared gate fields; nothing shaped like the brand's customers."""
    model_shapes = {tuple(p.shape) for p in build_model(len(CHURN_FEATURES), "mlp").parameters()}
    assert sorted(f.stem for f in wire.glob("*.jsonl")) == sorted(brands)
    kinds: set[str] = set()
    for brand in brands:
        for line in (wire / f"{brand}.jsonl").read_text(encoding="utf-8").splitlines():
            cap = json.loads(line)
            assert cap["violations"] == [], cap["violations"]
            for e in cap["entries"]:
                kinds.add(e["kind"])
                if e["kind"] == "masked-array":
                    assert tuple(e["shape"]) in model_shapes | {(1,)}, e
                elif e["kind"] == "metric":
                    assert e["shape"] == [] and e["dtype"] in ("int", "float"), e
                elif e["kind"] == "config" and "str" in e["dtype"]:
                    assert (e["record"], e["key"]) in STRING_FIELDS, e
                elif e["kind"] == "config" and "bytes" in e["dtype"]:
                    assert e["record"] == "secaggplus_configs", e
    assert kinds == {"masked-array", "metric", "config"}  # no plain tensor left in the clear
