"""Membership-inference attacks detect memorization when there is some, and not otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from privacy.membership import (
    black_box,
    chance_advantage,
    dp_bound,
    loss_threshold,
    score_histogram,
    threshold_from_histograms,
)

pytestmark = pytest.mark.unit


def test_loss_threshold_sees_a_gap_and_no_gap() -> None:
    rng = np.random.default_rng(0)
    leaky = loss_threshold(rng.exponential(0.1, 800), rng.exponential(1.0, 800))
    assert leaky.auc > 0.85 and leaky.advantage > 0.5 and (leaky.advantage_holdout or 0) > 0.5
    same = loss_threshold(rng.exponential(1.0, 800), rng.exponential(1.0, 800))
    assert abs(same.auc - 0.5) < 0.05 and same.advantage < 0.1
    assert abs(same.advantage_holdout) < 0.1  # type: ignore[arg-type]


def test_black_box_attack_finds_a_memorizing_model() -> None:
    rng = np.random.default_rng(1)
    x_in, x_out = rng.normal(size=(600, 4)), rng.normal(size=(600, 4))
    y_in, y_out = rng.integers(0, 2, 600), rng.integers(0, 2, 600)
    def key(row: np.ndarray) -> tuple[float, ...]:
        return tuple(round(float(v), 3) for v in row)  # ART hands over float32 copies

    seen = {key(r): int(c) for r, c in zip(x_in, y_in, strict=True)}

    def memorizer(x: np.ndarray) -> np.ndarray:
        p = np.array([{1: 0.98, 0: 0.02}.get(seen.get(key(r), -1), 0.5) for r in x])
        return np.stack([1 - p, p], axis=1)

    res = black_box(memorizer, x_in, y_in, x_out, y_out)
    assert res.auc > 0.9 and res.advantage > 0.8


def test_too_few_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        loss_threshold(np.ones(5), np.ones(50))


def test_dp_bound() -> None:
    assert dp_bound(None, None) is None
    assert dp_bound(0.01, 1e-5) == pytest.approx(np.expm1(0.01) + 2e-5)
    assert dp_bound(3.0, 1e-5) == 1.0


def test_histogram_attack_matches_the_row_level_one() -> None:
    rng = np.random.default_rng(3)
    member, nonmember = rng.normal(0.8, 1.0, 3000), rng.normal(0.0, 1.0, 3000)
    pooled = threshold_from_histograms(score_histogram(member), score_histogram(nonmember))
    rows = loss_threshold(-member, -nonmember)
    assert pooled.auc == pytest.approx(rows.auc, abs=0.01)
    assert pooled.advantage == pytest.approx(rows.advantage, abs=0.03)
    same = threshold_from_histograms(score_histogram(nonmember),
                                     score_histogram(rng.normal(0.0, 1.0, 3000)))
    assert same.advantage < chance_advantage(3000, 3000)
