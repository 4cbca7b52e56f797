"""`comity score --explain`: each feature's contribution to the churn log-odds (gradient x
input; weight x scaled value for the logistic model) and the words a subject reads."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from federation.brand.serving import explain_row
from federation.data.features import CHURN_FEATURES
from federation.models.churn import build_model, contributions

N = len(CHURN_FEATURES)
rows = arrays(np.float32, st.tuples(st.integers(1, 5), st.just(N)),
              elements=st.floats(-3, 3, width=32))


@settings(max_examples=25, deadline=None)
@given(rows, st.integers(0, 10_000))
def test_logistic_contribution_is_weight_times_value(x: np.ndarray, seed: int) -> None:
    torch.manual_seed(seed)
    model = build_model(N, "logistic")
    w = next(model.parameters()).detach().numpy()[0]
    assert np.allclose(contributions(model, x), x * w, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(rows, st.integers(0, 10_000))
def test_mlp_without_bias_contributions_sum_to_the_logit(x: np.ndarray, seed: int) -> None:
    """A ReLU network without biases is positively homogeneous, so gradient x input adds up
    to the logit exactly (Euler): the attribution is complete there."""
    torch.manual_seed(seed)
    model = build_model(N, "mlp")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
        logit = model(torch.from_numpy(x)).squeeze(-1).numpy()
    assert np.allclose(contributions(model, x).sum(axis=1), logit, atol=1e-4)


def test_words_name_the_strongest_features_and_their_direction() -> None:
    raw = dict.fromkeys(CHURN_FEATURES, 1.0) | {"recency_days": 200.0, "frequency": 9.0}
    c = np.zeros(N)
    c[CHURN_FEATURES.index("recency_days")] = 1.5
    c[CHURN_FEATURES.index("frequency")] = -0.7
    c[CHURN_FEATURES.index("age_years")] = 0.1
    words = explain_row(raw, c, 2)
    assert words == ("days since the last purchase = 200 raised the churn risk (+1.50 on the "
                     "log-odds)", "number of orders = 9 lowered the churn risk (-0.70 on the "
                     "log-odds)")
