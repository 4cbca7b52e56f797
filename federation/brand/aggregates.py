"""A DP aggregate across brand silos, the brand's side of its one SecAgg+ round.

The coordinator sends the query plan (public metadata only) as the config of one legacy fit
round (`federation.coordinator.aggregate_round`); each brand answers with its bounded local
vector (`local_vector`), weight 1; SecAgg+ reveals only the mean of the vectors, which times
the number of brands is their sum. Noise is added once, on the coordinator, by `release_sum`.
Rows never leave a brand. A de-duplicated query (`"dedup": true`) answers over the brand's
kept, linked customers only (`federation.brand.dedup`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from flwr.app import Context

from compliance.errors import InputError
from federation.brand.dedup import kept_people
from federation.brand.node import BrandNode, node_of
from federation.brand.wire_mod import declare_population
from federation.gate.dedup import DEDUP_KEY
from federation.settings import BRANDS_KEY, PLAN_KEY
from privacy.aggregates.federated import FederatedPlan, local_vector
from privacy.aggregates.release import scan
from privacy.overlap.dedup import linked_rows


def silo_frame(plan: FederatedPlan, node: BrandNode) -> pl.DataFrame:
    """The brand's own rows of the dataset, from the file its own config names for it (never
    a path the coordinator sends), only the columns the query uses."""
    path = node.config.aggregates.get(plan.spec.name)
    if path is None:
        raise InputError(f"brand '{node.brand_id}' holds no dataset '{plan.spec.name}' "
                         "(its node config names none under [aggregates])",
                         file=str(node.config.source), column="aggregates")
    return scan(plan.spec, plan.query, str(path)).collect()


def answer(config: dict[str, Any], context: Context) -> tuple[list[np.ndarray], int,
                                                              dict[str, float]]:
    """The local vector, weight 1 (so the secure mean is sum/n). A de-duplicated query
    counts only the customers this brand kept in the linkage the config names
    (`federation.brand.dedup`), each bounded as one person."""
    plan = FederatedPlan.from_json(str(config[PLAN_KEY]))
    node = node_of(context, str(config[BRANDS_KEY]).split(","))
    frame = silo_frame(plan, node)
    if config.get(DEDUP_KEY):
        frame = linked_rows(frame, plan.spec.unit_col, kept_people(node, str(config[DEDUP_KEY])))
    declare_population(context, frame.height)
    vec = local_vector(frame, plan)
    return [vec.astype(np.float64)], 1, {}
