"""A co-occurrence recommender (`federation.models.cooccurrence`) as federated rounds, the
coordinator's part: three sums over the brands (popularity, then the Gram matrix and the
transition counts of the TOP items it picks), through SecAgg+ when there are enough brands
and noised at the brands under DP (where only popularity and the Gram are asked for, and
the Gram is cut to its components above the noise edge before any brand sees it), then
federated validation: two evaluation rounds in which
every brand scores each candidate on its own validation items and sends back only HR@10 and
NDCG@10, averaged here by the brands' customers. The family with the best average serves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid

from federation.coordinator.statistics_round import (
    SumFn,
    evaluate_round,
    release_sum,
    sum_function,
)
from federation.models.cooccurrence import (
    Candidate,
    Cooccurrence,
    best,
    blend_candidates,
    choose,
    cooccurrence_plan,
    first_candidates,
    private_release,
    top_size,
)
from federation.models.item_statistics import StatisticsPlan, top_items
from federation.settings import CANDIDATES_KEY, TOP_KEY, RunSettings


def release_cooccurrence(sum_fn: SumFn, plan: StatisticsPlan | None, *, n_items: int,
                         n_brands: int, secure: bool, max_customers: int
                         ) -> tuple[Cooccurrence, int]:
    """The three sums (`plan` None: a run without DP, whose sums are exact counts, rounded
    back to integers after SecAgg+'s quantization; under DP popularity and the Gram only,
    post-processed by `private_release`); returns the statistics and the attempts the
    accountant must count."""
    m = plan.top if plan is not None else top_size(n_items, private=False)

    def stage(name: str, sigma: float, size: int, extra: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, int]:
        out, attempts = release_sum(sum_fn, name, sigma if plan is not None else 0.0, size,
                                    n_brands=n_brands, secure=secure,
                                    max_customers=max_customers, extra=extra)
        return (out if plan is not None else np.rint(out)), attempts

    pop, a_pop = stage("popularity", plan.pop_sigma if plan else 0.0, n_items)
    top = top_items(pop, m)
    extra = {TOP_KEY: ",".join(map(str, top.tolist()))}
    gram, a_gram = stage("gram", plan.pair_sigma if plan else 0.0, m * (m + 1) // 2, extra)
    if plan is not None:
        return private_release(pop, top, gram, plan.pair_sigma), max(a_pop, a_gram)
    trans, a_trans = stage("successions", 0.0, m * m, extra)
    return Cooccurrence.from_arrays([pop, top, gram, trans]), max(a_pop, a_gram, a_trans)


def validation_round(grid: Grid, nodes: list[int], stats: Cooccurrence,
                     candidates: list[Candidate], config: Mapping[str, Any]
                     ) -> list[dict[str, float]]:
    """Every brand's HR@10 and NDCG@10 of each candidate on its validation items, averaged
    by the brands' customers."""
    metrics = evaluate_round(grid, nodes, stats.to_arrays(),
                             {**config, CANDIDATES_KEY: json.dumps(candidates)})
    return [{"hr10": float(metrics.get(f"cand-{k}-hr10", np.nan)),
             "ndcg10": float(metrics.get(f"cand-{k}-ndcg10", np.nan))}
            for k in range(len(candidates))]


def choose_by_validation(score: Callable[[list[Candidate]], list[dict[str, float]]],
                         stats: Cooccurrence, *, private: bool) -> dict[str, Any]:
    """EASE's and the transitions' grids in one round, their best blended in a second
    (`score`: the federated validation figures of candidates, `validation_round`); the
    family with the best federated validation HR@10. Returns the `family`, its `chosen`
    candidate and every family's best `validation` figures."""
    first = first_candidates(stats, private=private)
    figures = score(first)
    ease, ease_fig = best(first, figures, "ease")
    validation: dict[str, dict[str, Any]] = {"ease": {**ease_fig, "chosen": ease}}
    tried = len(first)
    if stats.has_transitions:  # a private release has none: EASE is its one family
        markov, markov_fig = best(first, figures, "markov")
        blends = blend_candidates(ease, markov)
        blend, blend_fig = best(blends, score(blends))
        validation.update({"markov": {**markov_fig, "chosen": markov},
                           "blend": {**blend_fig, "chosen": blend}})
        tried += len(blends)
    family = choose(validation)
    return {"family": family, "chosen": validation[family]["chosen"],
            "validation": validation, "tried": tried}


def release_and_choose(grid: Grid, context: Context | None, nodes: list[int],
                       settings: RunSettings, config: Mapping[str, Any], *, secure: bool,
                       max_customers: int) -> tuple[Cooccurrence, int, dict[str, Any]]:
    """The whole co-occurrence run as the coordinator and the bench run it: the release
    (through SecAgg+ when `secure`; DP when the run has an epsilon), then federated
    validation. Returns the statistics, the attempts to account and the choice."""
    private = settings.dp_epsilon > 0
    plan = (cooccurrence_plan(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                              n_items=settings.items) if private else None)
    n_brands = len(settings.brands)
    sum_fn = sum_function(grid, context, nodes, config, n_brands=n_brands, secure=secure)
    stats, attempts = release_cooccurrence(sum_fn, plan, n_items=settings.items,
                                           n_brands=n_brands, secure=secure,
                                           max_customers=max_customers)
    choice = choose_by_validation(
        lambda c: validation_round(grid, nodes, stats, c, config), stats, private=private)
    if plan is not None:
        choice["dp"] = plan.report(attempts)
    return stats, attempts, choice
