"""`comity runs show` puts each brand's value of joining beside its lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.composition import default_services
from compliance.database import Database
from compliance.subjects.service import SubjectService
from federation.coordinator.lineage.service import BrandLineage, LineageService
from federation.settings import RunSettings


def test_runs_show_gives_the_lift_of_each_brand(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("COMITY_DATABASE_URL", url)
    monkeypatch.delenv("COMITY_KEYSTORE_URL", raising=False)
    db = Database(url)
    settings = RunSettings("r-lift", ("acme", "bolt"), "2026-01-01T00:00:00+00:00")
    lift = {"acme": {"auc": {"federated": 0.8, "local_only": 0.64, "lift": 0.25}}}
    with db.unit_of_work() as s:
        for b in settings.brands:
            SubjectService(s).register_brand(b, b.title(), "pipl", actor="test")
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.record_brands(settings.run_id, [BrandLineage(b, 10, 0, 0, "0" * 64, {})
                                                for b in settings.brands])
    with db.unit_of_work() as s:
        LineageService(s).complete(settings.run_id, {"final": {}, "per_brand_lift": lift},
                                   [np.zeros(2, dtype=np.float32)])
    db.dispose()
    default_services.cache_clear()
    services = default_services()
    try:
        r = CliRunner().invoke(app, ["runs", "show", settings.run_id])
    finally:
        if "db" in services.__dict__:
            services.db.dispose()
    assert r.exit_code == 0, r.output
    brands = {b["brand_id"]: b for b in json.loads(r.output)["brands"]}
    assert brands["acme"]["lift"] == lift["acme"]
    assert brands["bolt"]["lift"] is None  # no figures from that brand: said, not invented
