"""A DP aggregate across brand silos, the coordinator's side: one SecAgg+ round whose config
is the query plan; the secure sum of the brands' bounded vectors comes back, to which
`privacy.aggregates.federated.release_sum` adds the noise once."""

from __future__ import annotations

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid

from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.secagg import secure_vector_sum
from federation.errors import FederationError
from federation.gate.dedup import DEDUP_KEY
from federation.settings import BRANDS_KEY, PLAN_KEY, SECAGG_MIN_BRANDS
from privacy.aggregates.federated import (
    CLIPPING_RANGE,
    MODULUS_RANGE,
    QUANTIZATION_RANGE,
    FederatedPlan,
)


def secure_sum(grid: Grid, context: Context, plan: FederatedPlan, *,
               linkage: str | None = None) -> tuple[np.ndarray, int]:
    """The secure sum and how many brands answered. With `linkage` (a de-duplication's run
    id, `federation.coordinator.dedup_round`) each brand counts only the customers it kept."""
    brands = sorted(plan.spec.silos)
    n = len(brands)
    if n < SECAGG_MIN_BRANDS:
        raise FederationError(f"SecAgg+ needs at least {SECAGG_MIN_BRANDS} silos, got {n}",
                              status_code=400)
    size = len(plan.keys) * (2 if plan.with_sum else 1)
    summed = secure_vector_sum(
        AuditingGrid(grid), context, n_brands=n, size=size,
        config={PLAN_KEY: plan.to_json(), BRANDS_KEY: ",".join(brands),
                **({DEDUP_KEY: linkage} if linkage else {})},
        clipping_range=CLIPPING_RANGE, quantization_range=QUANTIZATION_RANGE,
        modulus_range=MODULUS_RANGE)
    if summed is None:
        raise FederationError("no brand answered the aggregate round", status_code=503)
    return summed
