"""Choosing a model on validation, the one rule every family choice uses: the highest
validation figure wins, later figures break ties, a NaN loses, and on a full tie the one
earlier in the stated order (the simpler model) is kept. Test data is never looked at here:
it is scored once, after the choice (the protocol of issue 20; Cawley & Talbot 2010 on
selection bias from tuning on test)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def best_by_validation(validation: Mapping[str, Mapping[str, float]], *,
                       keys: Sequence[str], order: Sequence[str] = ()) -> str:
    """The name in `validation` (name -> figures) whose `keys` figures are highest, compared
    in the order of `keys`; a missing or NaN figure loses; on a full tie the name earlier in
    `order`, then earlier in `validation`."""
    if not validation:
        raise ValueError("no candidate was validated")
    if not keys:
        raise ValueError("no validation figure to choose by")
    names = list(validation)

    def score(name: str) -> tuple[float, ...]:
        figures = validation[name]
        values = []
        for key in keys:
            v = float(figures.get(key, math.nan))
            values.append(v if math.isfinite(v) else -math.inf)
        rank = order.index(name) if name in order else len(order)
        return (*values, -rank, -names.index(name))
    return max(names, key=score)
