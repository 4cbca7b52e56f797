"""The recommendation bench's family choice: the federated sequential factorization beside the
co-occurrence families (`federation.models.cooccurrence`), each with its federated
validation figures, the family validation picks, its test figures (scored once, after the
choice) and the outsider's membership inference against the released item side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from federation.models import baselines as bl
from federation.models.cooccurrence import Candidate, Cooccurrence, choose, membership_attack
from federation.models.cooccurrence import scorer as family_scorer
from federation.models.item_statistics import StatisticsPlan
from federation.models.recommend import RecData
from privacy.membership import chance_advantage, dp_bound, loss_threshold

SEQUENTIAL = "sequential"


def test_metrics(weights: list[np.ndarray], chosen: Candidate, brands: list[RecData]
                 ) -> list[dict[str, float]]:
    """The chosen candidate scored once on each brand's test items, from the released
    statistics and the brand's own histories (their validation items included)."""
    stats = Cooccurrence.from_arrays(weights)
    return [bl.score_ranking(family_scorer(stats, b, chosen), b) for b in brands]


def with_sequential(choice: dict[str, Any], sequential: dict[str, float] | None
                    ) -> dict[str, Any]:
    """The co-occurrence choice with the sequential factorization's federated validation
    figures beside (`None`: not a candidate), chosen again over all of them."""
    validation = dict(choice["validation"])
    if sequential is not None:
        validation[SEQUENTIAL] = {"hr10": float(sequential["hr10"]),
                                  "ndcg10": float(sequential["ndcg10"])}
    family = choose(validation)
    return {**choice, "family": family, "chosen": validation[family].get("chosen"),
            "validation": validation}


def outsider_membership(data: RecData, *, plan: StatisticsPlan | None, epsilon: float | None,
                        delta: float, seed: int) -> dict[str, Any]:
    """The outsider's attack on the released statistics (`membership_attack`): advantage
    with the threshold chosen on half the targets and measured on the other half (the
    figure the goal is stated for), beside the best-threshold advantage and what chance
    alone reaches at these sample sizes."""
    members, outsiders = membership_attack(data, private=plan is not None, plan=plan,
                                           seed=seed)
    res = loss_threshold(-members, -outsiders, seed=seed)  # a "loss" below the cut: member
    what = ("the released low-rank Gram" if plan is not None
            else "the released Gram and transitions")
    return {"attack": f"outsider linear test on {what}",
            "epsilon": epsilon, "delta": delta if epsilon is not None else None,
            "dp_advantage_bound": dp_bound(epsilon, delta), "auc": round(res.auc, 4),
            "advantage": round(float(res.advantage_holdout or 0.0), 4),
            "advantage_best_threshold": round(res.advantage, 4),
            "chance_advantage_95": round(chance_advantage(res.members, res.nonmembers), 4),
            "members": res.members, "nonmembers": res.nonmembers}
