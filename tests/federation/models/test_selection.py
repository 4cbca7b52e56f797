"""The one choose-on-validation rule: highest first figure, later figures break ties, NaN
loses, a full tie keeps the earlier name in the stated order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.models.selection import best_by_validation

pytestmark = pytest.mark.unit
FIGURE = st.one_of(st.floats(-1, 1), st.just(math.nan))
VALIDATION = st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                             st.fixed_dictionaries({"hr10": FIGURE, "ndcg10": FIGURE}),
                             min_size=1, max_size=6)


def _rank(v: float) -> float:
    return v if math.isfinite(v) else -math.inf


@given(VALIDATION)
def test_no_other_candidate_is_strictly_better(validation: dict[str, dict[str, float]]) -> None:
    chosen = best_by_validation(validation, keys=("hr10", "ndcg10"))
    top = (_rank(validation[chosen]["hr10"]), _rank(validation[chosen]["ndcg10"]))
    for name, f in validation.items():
        assert (_rank(f["hr10"]), _rank(f["ndcg10"])) <= top, name


@given(VALIDATION, st.permutations(list("abcdef")))
def test_a_full_tie_keeps_the_earlier_name_in_order(validation: dict[str, dict[str, float]],
                                                   order: list[str]) -> None:
    same = {name: {"hr10": 0.5, "ndcg10": 0.3} for name in validation}
    chosen = best_by_validation(same, keys=("hr10", "ndcg10"), order=order)
    ranked = sorted(same, key=lambda n: (order.index(n) if n in order else len(order),
                                         list(same).index(n)))
    assert chosen == ranked[0]


def test_nan_loses_and_empty_input_is_refused() -> None:
    assert best_by_validation({"mlp": {"auc": math.nan}, "trees": {"auc": 0.1}},
                              keys=("auc",)) == "trees"
    assert best_by_validation({"a": {}, "b": {"auc": -5.0}}, keys=("auc",)) == "b"
    with pytest.raises(ValueError, match="no candidate"):
        best_by_validation({}, keys=("auc",))
    with pytest.raises(ValueError, match="no validation figure"):
        best_by_validation({"a": {"auc": 1.0}}, keys=())
