"""Federated gradient-boosted trees for churn: XGBoost trees bagged across brands, the way
Flower's XGBoost examples do it. Pure numpy and xgboost; no Flower, no I/O.

Why bagging, and what it follows:
- Flower's `xgboost-quickstart` and `xgboost-comprehensive` examples (and the Message-API
  strategy `flwr.serverapp.strategy.FedXgbBagging` they use, in Flower 1.42): each round every
  brand loads the global booster, grows one new tree on its own rows (on the
  gradients of the global model's predictions there) and sends back only those trees; the
  coordinator appends every brand's trees to the global model
  (`flwr.serverapp.strategy.strategy_utils.aggregate_bagging`; `federation.coordinator.strategy`
  screens and appends).
  Horizontal bagging of brand-local boosting steps is the scheme of Ma et al., "Gradient-less
  Federated Gradient Boosting Trees with Learnable Learning Rates" (FedXGBllr, EuroMLSys 2023),
  §2, whose baseline it is, and of the Flower team's "Federated XGBoost" write-up.
- The cyclic variant (`FedXgbCyclic`: brands boost in turn) trains one brand per round, so it
  needs K times the rounds for the same trees and forgets the early brands on non-IID splits;
  histogram sums through SecAgg+ (SecureBoost-style, Cheng et al. 2021) would keep every tree
  inside a sum but need one round per tree level, hundreds of rounds for a usable ensemble.
  Bagging needs one round per tree per brand. One tree, not several: Flower's
  `aggregate_bagging` appends `num_parallel_tree` trees of each reply (one), so a brand
  sending more would have the rest dropped silently (the quickstart's `num-local-round = 1`).
- What the coordinator sees: each brand's new trees (split thresholds on the shared encoded
  features, leaf values that are sums of gradients over the brand's customers in a leaf). That
  is more than a SecAgg+ sum, so tree runs do not go through SecAgg+; the lineage says so.
  Leaf values are bounded by `max_delta_step` and every leaf has at least
  `min_child_weight` (hessian) customers, which limits what one customer moves.

LightGBM has no model-merge API (boosters cannot be appended to one another); XGBoost's JSON
model lists trees that can be appended, which is why this path is XGBoost.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

if TYPE_CHECKING:
    import xgboost as xgb

TREES_KIND = "trees"


@dataclass(frozen=True)
class TreeParams:
    """Booster parameters every brand trains with (the coordinator's, carried in the run
    settings). `eta` is each brand's step: the global model moves by the brands' trees added
    together, so it is kept small."""
    max_depth: int = 3
    eta: float = 0.05
    min_child_weight: float = 5.0
    subsample: float = 0.8
    reg_lambda: float = 1.0
    max_delta_step: float = 1.0

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ValueError("max_depth must be >= 1")
        if not 0 < self.eta <= 1 or not 0 < self.subsample <= 1:
            raise ValueError("eta and subsample must be in (0, 1]")
        if self.min_child_weight < 0 or self.reg_lambda < 0 or self.max_delta_step < 0:
            raise ValueError("min_child_weight, reg_lambda, max_delta_step must be >= 0")

    def booster(self, seed: int) -> dict[str, object]:
        return {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist",
                "max_depth": self.max_depth, "eta": self.eta,
                "min_child_weight": self.min_child_weight, "subsample": self.subsample,
                "lambda": self.reg_lambda, "max_delta_step": self.max_delta_step,
                # every brand starts from the same prior: the trees learn the offset
                "base_score": 0.5, "nthread": 1, "seed": seed, "verbosity": 0}


def to_array(model: bytes) -> np.ndarray:
    """A model as the one uint8 array an ArrayRecord carries (Flower's examples do the same)."""
    return np.frombuffer(model, dtype=np.uint8).copy()


def from_array(array: np.ndarray) -> bytes:
    return np.asarray(array, dtype=np.uint8).tobytes()


def empty_model() -> list[np.ndarray]:
    """Round one's global model: no trees (each brand grows its first ones from the prior)."""
    return [np.zeros(0, dtype=np.uint8)]


def _booster(model: bytes, params: dict[str, object] | None = None,
             cache: list[object] | None = None) -> object:
    import xgboost as xgb  # heavy: on first use

    bst = xgb.Booster(params=params or {"nthread": 1}, cache=cache)  # type: ignore[arg-type]
    if model:
        bst.load_model(bytearray(model))
    return bst


def grow(model: bytes, x: np.ndarray, y: np.ndarray, params: TreeParams, *, seed: int
         ) -> bytes:
    """The brand's round: one new tree boosted on its rows from the global model `model`
    (b"": none yet); only the new tree is returned (as a model of its own, the form Flower's
    `aggregate_bagging` appends). One `Booster.update`, as Flower's client does it."""
    import xgboost as xgb

    dtrain = xgb.DMatrix(np.asarray(x, dtype=np.float32), label=np.asarray(y, dtype=np.float32))
    bst = cast("xgb.Booster", _booster(model, params.booster(seed), [dtrain]))
    n = bst.num_boosted_rounds()
    bst.update(dtrain, n)
    return bytes(bst[n:n + 1].save_raw("json"))


def tree_count(model: bytes) -> int:
    if not model:
        return 0
    return int(json.loads(model)["learner"]["gradient_booster"]["model"]
               ["gbtree_model_param"]["num_trees"])


def check_trees(model: bytes, *, max_depth: int, expected: int = 1) -> str | None:
    """Why a brand's reply is not `expected` well-formed new trees (None: it is): the
    coordinator screens it before appending, as it screens weight updates."""
    try:
        trees = json.loads(model)["learner"]["gradient_booster"]["model"]["trees"]
    except (ValueError, KeyError, TypeError):
        return "not an XGBoost JSON model"
    if len(trees) != expected:
        return f"{len(trees)} trees, expected {expected}"
    for t in trees:
        leaves = [v for v, left in zip(t["split_conditions"], t["left_children"], strict=True)
                  if left == -1]
        if not all(math.isfinite(v) for v in leaves) or not all(
                math.isfinite(v) for v in t["split_conditions"]):
            return "non-finite split or leaf value"
        if len(t["left_children"]) > 2 ** (max_depth + 1) - 1:
            return f"a tree deeper than max_depth {max_depth}"
    return None


def predict(model: bytes, x: np.ndarray) -> np.ndarray:
    """Churn probabilities of the global model (0.5 everywhere before any tree)."""
    if not model:
        return np.full(len(x), 0.5)
    import xgboost as xgb

    bst = cast("xgb.Booster", _booster(model))
    return np.asarray(bst.predict(xgb.DMatrix(np.asarray(x, dtype=np.float32))),
                      dtype=np.float64)
