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
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.consent.schemas import ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.errors import ComityError, InputError, NotFoundError
from compliance.policy.loader import load_policies
from federation.brand import local
from federation.brand.node import BrandNode, prepare_for_run
from federation.brand.serving import SCORING_PURPOSE, serve_churn, serve_recommendations
from federation.coordinator.lineage.models import TrainingRun
from federation.coordinator.lineage.service import BrandLineage, LineageService
from federation.coordinator.planning import initial_weights
from federation.data.features import CHURN_FEATURES
from federation.data.silo import load_silo
from federation.data.synthetic import catalogue
from federation.demo import Alliance, prepare_alliance, recommend_settings
from federation.models.churn import build_model, get_weights
from federation.models.item_statistics import noise_share, plan_statistics
from federation.runtime.simulation import simulate
from federation.settings import STAGE_KEY, STD_KEY, RunSettings

pytestmark = pytest.mark.integration


def _refuse_personalization(db: Database, brand: str, subject: str) -> None:
    with db.unit_of_work() as s:
        ConsentService(s).record(ConsentIn.model_validate({
            "brand_id": brand, "subject": subject, "purpose": SCORING_PURPOSE,
            "action": "refuse", "notice_version": "v2",
            "occurred_at": datetime.now().astimezone()}), actor="test",
            policies=load_policies())


def _release(db: Database, settings: RunSettings, weights: list[np.ndarray],
             final: dict[str, float] | None = None) -> None:
    """A completed run over every brand of the alliance, with `weights` as its model."""
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.record_brands(settings.run_id, [BrandLineage(b, 1, 0, 0, "0" * 64, {})
                                                for b in settings.brands])
        lineage.complete(settings.run_id, {"final": final or {}}, weights)


def _node(alliance: Alliance) -> BrandNode:
    return alliance.nodes()[alliance.settings.brands[0]]


def test_scores_for_consenting_customers_and_art24_fallback(db: Database, tmp_path: Path,
                                                             api_url: str) -> None:
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.1,
                                rounds=1)
    settings, node = alliance.settings, _node(alliance)
    brand = node.brand_id
    with pytest.raises(NotFoundError, match="no trained churn model"):
        serve_churn(node)
    _release(db, settings, get_weights(build_model(len(CHURN_FEATURES), settings.model_kind)))
    scores = serve_churn(node)
    assert not any("factors" in s.as_dict() for s in scores)
    explained = serve_churn(node, explain=3)  # comity score --explain (audited too)
    assert all(len(s.factors) == 3 for s in explained if s.personalized)
    assert not any(s.factors for s in explained if not s.personalized)
    raw_ids = set(load_silo(alliance.silo(brand), load_policies()).customers["customer_id"])
    assert scores and not any(s.subject in raw_ids for s in scores)
    scored = [s for s in scores if s.personalized]
    refused = [s for s in scores if not s.personalized]
    assert scored and refused
    assert all(0.0 <= (s.churn_risk or 0) <= 1.0 for s in scored)
    assert all(s.churn_risk is None and s.explanation for s in refused)

    one = next(s for s in scored)
    raw = next(c for c in raw_ids if node.pseudonymizer(c) == one.subject)
    _refuse_personalization(db, brand, one.subject)  # recorded at the coordinator: synced
    (after,) = serve_churn(node, customers=[raw])
    assert after.subject == one.subject and not after.personalized
    assert after.churn_risk is None and "Art. 24" in after.explanation
    assert json.dumps(after.as_dict())
    with db.reading() as s:
        served = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "serving.churn_scored")).all()
    assert len(served) == 3 and served[-1].brand_id == brand
    assert served[-1].data["requested"] == 1 and served[-1].data["personalized"] == 0


def test_a_brand_gets_only_models_it_took_part_in(db: Database, tmp_path: Path,
                                                  api_url: str) -> None:
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.05,
                                rounds=1)
    others = replace(alliance.settings, brands=alliance.settings.brands[1:])
    _release(db, others, get_weights(build_model(len(CHURN_FEATURES), "mlp")))
    with pytest.raises(ComityError, match="404"):
        serve_churn(_node(alliance))  # the first brand was not in that run
    assert serve_churn(alliance.nodes()[others.brands[0]])


def test_recommendations_personalized_only_where_art24_allows(db: Database, tmp_path: Path,
                                                              api_url: str) -> None:
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.1,
                                rounds=1)
    rec_settings = recommend_settings(alliance)
    node = _node(alliance)
    brand = node.brand_id
    with pytest.raises(NotFoundError, match="no trained recommend model"):
        serve_recommendations(node)
    weights = initial_weights(rec_settings)
    weights[2][:, 0] = np.arange(rec_settings.items, 0, -1)  # a known popularity order
    _release(db, rec_settings, weights)
    orders = load_silo(alliance.silo(brand), load_policies()).orders
    sold = set(orders["item_id"])
    bought = {node.pseudonymizer(c): set(g) for c, g in orders.groupby("customer_id")["item_id"]}
    recs = serve_recommendations(node, k=5)
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
    raw = next(c for c in orders["customer_id"] if node.pseudonymizer(c) == one.subject)
    _refuse_personalization(db, brand, one.subject)
    (after,) = serve_recommendations(node, customers=[raw], k=5)
    assert not after.personalized and after.items == popular and "Art. 24" in after.explanation

    short = tmp_path / "short.csv"
    short.write_text("item_id\nally-0000\n", encoding="utf-8")
    with pytest.raises(InputError, match="catalogue has 1 items"):
        serve_recommendations(node, catalogue=short)
    dup = tmp_path / "dup.csv"
    dup.write_text("item_id\nally-0000\nally-0000\n", encoding="utf-8")
    with pytest.raises(InputError, match="dup.csv:3:item_id: duplicated item id"):
        serve_recommendations(node, catalogue=dup)

    # A newer version that lost to its own non-personalized list is not used to personalize.
    worse = recommend_settings(alliance)
    _release(db, worse, weights, {"hr10": 0.01, "hr10_nonpersonalized": 0.05})
    recs = serve_recommendations(node, k=5)
    assert not any(r.personalized for r in recs)
    assert {r.rule_id for r in recs if r.rule_id.startswith("serving.")} == {
        "serving.model_below_baseline"}

    # A co-occurrence recommender (its weights are item-item statistics) is refused by
    # name, not misread as a factorization.
    _release(db, replace(recommend_settings(alliance), recommender="cooccurrence"), weights)
    with pytest.raises(InputError, match="co-occurrence recommender"):
        serve_recommendations(node, k=5)


@pytest.mark.slow
def test_private_recommender_is_released_as_item_statistics_and_served(
        db: Database, tmp_path: Path, api_url: str) -> None:
    """Under DP the product path releases the item side as two noisy sums (here without
    SecAgg+, so each brand adds all the noise), evaluates it once, and serving uses it with
    customers' vectors computed from their history: the lists follow what they bought.
    Epsilon 8: at this small scale without SecAgg+, epsilon 3 leaves the noise on a par
    with the signal (the demo's SecAgg+ run at full scale does well at epsilon 3)."""
    alliance = prepare_alliance(db, tmp_path / "silos", api_url=api_url, seed=5, scale=0.3,
                                rounds=1)
    rec = replace(recommend_settings(alliance), dp_epsilon=8.0, secure_aggregation=False)
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
    node = _node(alliance)
    recs = serve_recommendations(node, k=5)
    personal = [r for r in recs if r.personalized]
    assert personal and len({tuple(r.items) for r in personal}) > 1

    # A brand refuses a coordinator asking, outside SecAgg+, for only a share of the noise.
    brand = Context(run_id=0, node_id=0, node_config={"brand-id": node.brand_id},
                    state=RecordDict(), run_config={})
    sigma = plan_statistics(target_epsilon=8.0, delta=rec.dp_delta, n_items=rec.items).pop_sigma
    share = {STAGE_KEY: "popularity", STD_KEY: noise_share(sigma, 3, secure=True)}
    data = prepare_for_run(rec, node).data
    with pytest.raises(ValueError, match="below the"):
        local.train(rec, brand.state, [], share, data)
    (vector,), _, _ = local.train(rec, brand.state, [], share, data, secure=True)
    assert vector.shape == (rec.items,)
