"""Serving at the brand: churn scores and recommendations from the latest models for those
who allow automated decisions; no individual score, or the non-personalized list (and the
reason), for those who refused; pseudonyms only."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Context, RecordDict

from compliance.consent.schemas import ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.errors import InputError, NotFoundError
from compliance.policy.loader import load_policies
from federation.brand import local
from federation.brand.node import prepare_for_run
from federation.brand.serving import SCORING_PURPOSE, recommend, score_churn
from federation.coordinator.lineage.models import TrainingRun
from federation.coordinator.lineage.service import LineageService
from federation.coordinator.planning import initial_weights
from federation.data.features import CHURN_FEATURES
from federation.data.silo import load_silo
from federation.data.synthetic import catalogue
from federation.demo import prepare_alliance, recommend_settings
from federation.models.churn import build_model, get_weights
from federation.models.item_statistics import noise_share, plan_statistics
from federation.release import ModelRelease
from federation.runtime.simulation import simulate
from federation.settings import STAGE_KEY, STD_KEY
from privacy.pseudonym import Pseudonymizer

pytestmark = pytest.mark.integration


def _refuse_personalization(db: Database, brand: str, subject: str) -> None:
    with db.unit_of_work() as s:
        ConsentService(s).record(ConsentIn.model_validate({
            "brand_id": brand, "subject": subject, "purpose": SCORING_PURPOSE,
            "action": "refuse", "notice_version": "v2",
            "occurred_at": datetime.now().astimezone()}), actor="test",
            policies=load_policies())


def test_scores_for_consenting_customers_and_art24_fallback(db: Database,
                                                             tmp_path: Path) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", seed=5, scale=0.1, rounds=1)
    brand = settings.brands[0]
    silo = Path(settings.silo_root) / brand
    with pytest.raises(NotFoundError, match="no trained churn model"):
        _latest(db, "churn")
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.complete(settings.run_id, {"final": {}},
                         get_weights(build_model(len(CHURN_FEATURES), settings.model_kind)))
    scores = score_churn(db, silo, _latest(db, "churn"))
    raw_ids = set(load_silo(silo, load_policies()).customers["customer_id"])
    assert scores and not any(s.subject in raw_ids for s in scores)
    scored = [s for s in scores if s.personalized]
    refused = [s for s in scores if not s.personalized]
    assert scored and refused
    assert all(0.0 <= (s.churn_risk or 0) <= 1.0 for s in scored)
    assert all(s.churn_risk is None and s.explanation for s in refused)

    one = next(s for s in scored)
    raw = next(c for c in raw_ids if Pseudonymizer.for_brand(brand)(c) == one.subject)
    _refuse_personalization(db, brand, one.subject)
    (after,) = score_churn(db, silo, _latest(db, "churn"), customers=[raw])
    assert after.subject == one.subject and not after.personalized
    assert after.churn_risk is None and "Art. 24" in after.explanation
    assert json.dumps(after.as_dict())


def test_recommendations_personalized_only_where_art24_allows(db: Database,
                                                              tmp_path: Path) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", seed=5, scale=0.1, rounds=1)
    rec_settings = recommend_settings(settings)
    brand = settings.brands[0]
    silo = Path(settings.silo_root) / brand
    with pytest.raises(NotFoundError, match="no trained recommend model"):
        _latest(db, "recommend")
    weights = initial_weights(rec_settings)
    weights[2][:, 0] = np.arange(rec_settings.items, 0, -1)  # a known popularity order
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(rec_settings, "fedavg")
        lineage.complete(rec_settings.run_id, {"final": {}}, weights)
    orders = load_silo(silo, load_policies()).orders
    sold = set(orders["item_id"])
    bought = {Pseudonymizer.for_brand(brand)(c): set(g) for c, g in
              orders.groupby("customer_id")["item_id"]}
    recs = recommend(db, silo, _latest(db, "recommend"), k=5)
    personal = [r for r in recs if r.personalized]
    others = [r for r in recs if not r.personalized]
    assert personal and others
    for r in personal:
        assert len(r.items) == 5 and set(r.items) <= sold
        assert not set(r.items) & bought[r.subject]  # never what they already have
    popular = sorted(sold, key=lambda x: -weights[2][catalogue().index(x), 0])[:5]
    assert all(r.items == popular for r in others)
    assert any("Art. 24" in r.explanation for r in others)

    one = personal[0]
    raw = next(c for c in orders["customer_id"]
               if Pseudonymizer.for_brand(brand)(c) == one.subject)
    _refuse_personalization(db, brand, one.subject)
    (after,) = recommend(db, silo, _latest(db, "recommend"), customers=[raw], k=5)
    assert not after.personalized and after.items == popular and "Art. 24" in after.explanation

    short = tmp_path / "short.csv"
    short.write_text("item_id\nally-0000\n", encoding="utf-8")
    with pytest.raises(InputError, match="catalogue has 1 items"):
        recommend(db, silo, _latest(db, "recommend"), catalogue=short)
    dup = tmp_path / "dup.csv"
    dup.write_text("item_id\nally-0000\nally-0000\n", encoding="utf-8")
    with pytest.raises(InputError, match="dup.csv:3:item_id: duplicated item id"):
        recommend(db, silo, _latest(db, "recommend"), catalogue=dup)

    # A newer version that lost to its own non-personalized list is not used to personalize.
    worse = recommend_settings(settings)
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(worse, "fedavg")
        lineage.complete(worse.run_id, {"final": {"hr10": 0.01, "hr10_nonpersonalized": 0.05}},
                         weights)
    recs = recommend(db, silo, _latest(db, "recommend"), k=5)
    assert not any(r.personalized for r in recs)
    assert {r.rule_id for r in recs if r.rule_id.startswith("serving.")} == {
        "serving.model_below_baseline"}



def _latest(db: Database, model: str) -> ModelRelease:
    """What a brand serves: the newest released version of `model`."""
    with db.reading() as s:
        return LineageService(s).latest_release(model)

@pytest.mark.slow
def test_private_recommender_is_released_as_item_statistics_and_served(
        db: Database, tmp_path: Path) -> None:
    """Under DP the product path releases the item side as two noisy sums (here without
    SecAgg+, so each brand adds all the noise), evaluates it once, and serving uses it with
    customers' vectors computed from their history: the lists follow what they bought.
    Epsilon 8: at this small scale without SecAgg+, epsilon 3 leaves the noise on a par
    with the signal (the demo's SecAgg+ run at full scale does well at epsilon 3)."""
    settings = prepare_alliance(db, tmp_path / "silos", seed=5, scale=0.3, rounds=1)
    rec = replace(recommend_settings(settings), dp_epsilon=8.0, secure_aggregation=False)
    assert rec.item_statistics
    outcome = simulate(rec, db)
    assert sorted(outcome.rounds) == [1]
    with db.reading() as s:
        run = s.get(TrainingRun, rec.run_id)
        assert run is not None and run.status == "completed"
        dp, secure = run.metrics["dp"], run.metrics["secure_aggregation"]
    assert not secure and dp["mechanism"] == "gaussian item statistics"
    assert dp["epsilon"] <= 8.0 and dp["releases"] == 2 and dp["privacy_unit"] == "customer"
    final = outcome.final
    assert final["hr10"] > final["hr10_nonpersonalized"]  # four tastes: recency tells them
    silo = Path(settings.silo_root) / settings.brands[0]
    recs = recommend(db, silo, _latest(db, "recommend"), k=5)
    personal = [r for r in recs if r.personalized]
    assert personal and len({tuple(r.items) for r in personal}) > 1

    # A brand refuses a coordinator asking, outside SecAgg+, for only a share of the noise.
    brand = Context(run_id=0, node_id=0, node_config={"brand-id": settings.brands[0]},
                    state=RecordDict(), run_config={})
    sigma = plan_statistics(target_epsilon=8.0, delta=rec.dp_delta, n_items=rec.items).pop_sigma
    share = {STAGE_KEY: "popularity", STD_KEY: noise_share(sigma, 3, secure=True)}
    data = prepare_for_run(rec, settings.brands[0]).data
    with pytest.raises(ValueError, match="below the"):
        local.train(rec, brand.state, [], share, data)
    (vector,), _, _ = local.train(rec, brand.state, [], share, data, secure=True)
    assert vector.shape == (rec.items,)
