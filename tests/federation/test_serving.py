"""Churn scoring at the brand: the latest model for those who allow automated decisions, no
individual score (and the reason) for those who refused, pseudonyms only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from compliance.consent.schemas import ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.errors import NotFoundError
from compliance.policy.loader import load_policies
from federation.demo import prepare_alliance
from federation.features import CHURN_FEATURES
from federation.lineage.service import LineageService
from federation.serving import SCORING_PURPOSE, score_churn
from federation.silo import load_silo
from federation.task import build_model, get_weights
from privacy.pseudonym import Pseudonymizer

pytestmark = pytest.mark.integration


def test_scores_for_consenting_customers_and_art24_fallback(db: Database,
                                                             tmp_path: Path) -> None:
    settings = prepare_alliance(db, tmp_path / "silos", seed=5, scale=0.1, rounds=1)
    brand = settings.brands[0]
    silo = Path(settings.silo_root) / brand
    with pytest.raises(NotFoundError, match="no trained churn model"):
        score_churn(db, silo)
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.complete(settings.run_id, {"final": {}},
                         get_weights(build_model(len(CHURN_FEATURES), settings.model_kind)))
    scores = score_churn(db, silo)
    raw_ids = set(load_silo(silo, load_policies()).customers["customer_id"])
    assert scores and not any(s.subject in raw_ids for s in scores)
    scored = [s for s in scores if s.personalized]
    refused = [s for s in scores if not s.personalized]
    assert scored and refused
    assert all(0.0 <= (s.churn_risk or 0) <= 1.0 for s in scored)
    assert all(s.churn_risk is None and s.explanation for s in refused)

    one = next(s for s in scored)
    raw = next(c for c in raw_ids if Pseudonymizer.for_brand(brand)(c) == one.subject)
    with db.unit_of_work() as s:
        ConsentService(s).record(ConsentIn.model_validate({
            "brand_id": brand, "subject": one.subject, "purpose": SCORING_PURPOSE,
            "action": "refuse", "notice_version": "v2",
            "occurred_at": datetime.now().astimezone()}), actor="test",
            policies=load_policies())
    (after,) = score_churn(db, silo, customers=[raw])
    assert after.subject == one.subject and not after.personalized
    assert after.churn_risk is None and "Art. 24" in after.explanation
    assert json.dumps(after.as_dict())
