"""The value of joining per brand: the coordinator asks each brand once the run is trained
and records {federated, local_only, lift} per brand in the run's lineage metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.database import Database
from federation.coordinator.joining import brand_lift, lift
from federation.coordinator.lineage.models import TrainingRun
from federation.demo import prepare_alliance
from federation.runtime.simulation import simulate


@pytest.mark.unit
def test_lift_is_relative_and_none_without_a_local_figure() -> None:
    assert lift(0.8, 0.64) == {"federated": 0.8, "local_only": 0.64, "lift": 0.25}
    assert lift(0.1, 0.0)["lift"] is None
    figures = brand_lift({"hr10": 0.3, "ndcg10": 0.2, "local_only_hr10": 0.2,
                          "local_only_ndcg10": 0.2, "num-examples": 5}, "recommend")
    assert figures["hr10"]["lift"] == 0.5 and figures["ndcg10"]["lift"] == 0.0


@pytest.mark.integration
@pytest.mark.slow
def test_a_run_records_the_lift_of_every_brand(db: Database, tmp_path: Path,
                                                api_url: str) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.15,
                                rounds=1).settings
    simulate(settings, db)
    with db.reading() as s:
        run = s.get(TrainingRun, settings.run_id)
        assert run is not None and run.status == "completed"
        per_brand = run.metrics["per_brand_lift"]
    assert sorted(per_brand) == sorted(settings.brands)
    for figures in per_brand.values():
        auc = figures["auc"]
        assert 0.0 <= auc["federated"] <= 1.0 and 0.0 <= auc["local_only"] <= 1.0
        assert auc["lift"] == pytest.approx(auc["federated"] / auc["local_only"] - 1, abs=1e-3)
