"""The churn examples a brand prepares for a run: the optional LTV feature changes the
brand's feature matrix, is fitted on the brand's own gated orders, and nothing derived
from it leaves the brand but the model trained on it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from compliance.consent.state import ConsentState, SubjectConsent
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import PolicySet
from federation.coordinator.planning import initial_weights
from federation.data.features import CHURN_FEATURES, LTV_FEATURE
from federation.data.silo import SiloData, load_silo, write_silo
from federation.data.synthetic import BrandSpec, generate_brand
from federation.gate.prepare import prepare_churn
from federation.gate.report import GateReport
from federation.settings import RunSettings
from privacy.pseudonym import Pseudonymizer

pytestmark = pytest.mark.integration
SPEC = BrandSpec("ltv-brand", "LTV", "pipl", 400, 0.5, 20, 1.5, 0.1)
CUTOFF = date(2026, 3, 1)


def _brand(tmp_path: Path) -> tuple[PolicySet, SiloData, Pseudonymizer,
                                     dict[str, SubjectConsent]]:
    """One synthetic brand's silo with every customer's consent granted."""
    policies = load_policies()
    write_silo(generate_brand(SPEC, seed=3), tmp_path / SPEC.brand_id)
    silo = load_silo(tmp_path / SPEC.brand_id, policies)
    pseudo = Pseudonymizer.from_key_dir(tmp_path / "keys")
    granted = SubjectConsent(ConsentState.GRANTED, is_minor=False, guardian_consent=False)
    snapshot = {pseudo(str(c)): granted for c in silo.customers["customer_id"]}
    return policies, silo, pseudo, snapshot


def test_ltv_feature_changes_the_matrix_and_stays_at_the_brand(tmp_path: Path) -> None:
    policies, silo, pseudo, snapshot = _brand(tmp_path)

    def prepare(ltv: bool):  # type: ignore[no-untyped-def]
        return prepare_churn(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                             purpose="model_training", cutoff=CUTOFF, horizon_days=90,
                             seed=1, pseudonym=pseudo, ltv_feature=ltv)

    off, on = prepare(False), prepare(True)
    assert off.data.x_train.shape[1] == len(CHURN_FEATURES)
    assert on.data.x_train.shape[1] == len(CHURN_FEATURES) + 1
    # the same customers in the same split, the same ten columns, one more that varies
    np.testing.assert_array_equal(on.data.x_train[:, :-1], off.data.x_train)
    np.testing.assert_array_equal(on.data.y_test, off.data.y_test)
    assert np.unique(on.data.x_train[:, -1]).size > 10
    # what the brand reports to the coordinator is the same with or without it
    assert GateReport.of(on).to_records() == GateReport.of(off).to_records()
    assert LTV_FEATURE not in str(GateReport.of(on).to_records())
    # and the run's model takes the extra input at every brand
    settings = RunSettings(run_id="r", brands=(SPEC.brand_id,),
                           consent_as_of="2026-03-02T00:00:00+00:00", ltv_feature=True)
    assert initial_weights(settings)[0].shape[-1] == len(CHURN_FEATURES) + 1


def test_serving_scores_with_the_features_the_release_was_trained_on(tmp_path: Path) -> None:
    """A release of an ltv-feature run is scored (and explained) with the LTV column the
    brand fits itself at serving time; one without it with the ten columns."""
    from federation.brand.serving import score_churn
    from federation.release import ModelRelease

    policies, silo, pseudo, snapshot = _brand(tmp_path)
    for ltv in (False, True):
        settings = RunSettings(run_id="r", brands=(SPEC.brand_id,), ltv_feature=ltv,
                               consent_as_of="2026-03-02T00:00:00+00:00", model_kind="logistic")
        release = ModelRelease("churn", 1, "0" * 64, initial_weights(settings),
                               {"ltv_feature": ltv, "horizon_days": 90,
                                "model_kind": "logistic"}, {})
        served = score_churn(silo, PolicyEngine(policies), pseudo, snapshot, release,
                             as_of=CUTOFF, explain=11)
        scored = [s for s in served.results if s.personalized]
        assert scored and all(0 <= (s.churn_risk or 0) <= 1 for s in scored)
        words = " ".join(scored[0].factors)
        assert ("log of the predicted spend" in words) is ltv
