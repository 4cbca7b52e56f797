"""The strong pooled baselines of every bench JSON, each tuned on the validation split and
scored once on test (`federation.bench.protocol`): the figures a federated model is judged
against. The models are in `federation.models.baselines`; this module holds their grids
and the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product
from typing import Any

import numpy as np

from federation.bench.protocol import measured
from federation.models import baselines as bl
from federation.models.churn import roc_auc
from federation.models.cooccurrence import (  # the federated grids too
    EASE_LAMBDAS,
    MARKOV,
    RECENCY_HALVES,
)
from federation.models.recommend import RecData

ProgressFn = Callable[[str], None]
Params = dict[str, Any]

# Small grids: the point is a fair, tuned baseline, not a search.
KNN_NEIGHBOURS: tuple[int | None, ...] = (20, 100, 500, None)
ALS: list[Params] = [dict(factors=f, regularization=r, alpha=a, iterations=15)
       for f, r, a in product((32, 64), (0.01, 0.1), (1.0, 10.0))]
LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)
LIGHTGBM_LEAVES = (7, 15, 31)
LIGHTGBM_RATE = 0.05


def _best(tried: list[tuple[Params, dict[str, float]]], key: tuple[str, ...]
          ) -> tuple[Params, dict[str, float]]:
    """The grid point with the best validation metrics (`key` in order; NaN loses)."""
    def score(item: tuple[Params, dict[str, float]]) -> tuple[float, ...]:
        return tuple(-np.inf if np.isnan(item[1][k]) else item[1][k] for k in key)
    return max(tried, key=score)


def _strongest(baselines: dict[str, dict[str, Any]], key: tuple[str, ...]) -> dict[str, Any]:
    """The baseline validation ranks first, with its test figures (chosen on validation
    like everything else: picking it by test would flatter it)."""
    scored = [(tuple(b["validation"][k] for k in key), name)
              for name, b in baselines.items() if b.get("validation")]
    _, name = max(scored)
    b = baselines[name]
    return {"name": name, "metrics": b["metrics"], "validation": b["validation"],
            "chosen": b["chosen"]}


# ---------------------------------------------------------------- recommendation

RecFamily = Callable[[RecData], Iterable[tuple[Params, bl.Scorer]]]


def _rec_families(seed: int) -> dict[str, RecFamily]:
    def one(params: Params, fit: Callable[[RecData], bl.Scorer]) -> RecFamily:
        return lambda d: [(params, fit(d))]

    return {
        "popularity": one({}, bl.popularity),
        "item_knn": lambda d: ((dict(neighbours=k, max_items=bl.MAX_ITEMS),
                                bl.item_knn(d, neighbours=k)) for k in KNN_NEIGHBOURS),
        "ease": lambda d: ((dict(lam=lam, max_items=bl.MAX_ITEMS), s)
                           for lam, s in bl.ease_grid(d, EASE_LAMBDAS).items()),
        "ease_recency": lambda d: ((dict(lam=lam, half=h, max_items=bl.MAX_ITEMS), sc)
                                   for (lam, h), sc in bl.ease_recency_grid(
                                       d, EASE_LAMBDAS, RECENCY_HALVES).items()),
        "markov": lambda d: ((p, bl.markov(d, **p)) for p in MARKOV),
        "als": lambda d: ((p, bl.als(d, **p, seed=seed)) for p in ALS),
    }


def _refit(family: str, params: Params, data: RecData, seed: int) -> bl.Scorer:
    p = {k: v for k, v in params.items() if k != "max_items"}
    if family == "popularity":
        return bl.popularity(data)
    if family == "item_knn":
        return bl.item_knn(data, **p)
    if family == "ease":
        return bl.ease(data, **p)
    if family == "ease_recency":
        return bl.ease_recency_grid(data, [p["lam"]], [p["half"]])[(p["lam"], p["half"])]
    if family == "markov":
        return bl.markov(data, **p)
    return bl.als(data, **p, seed=seed)


def recommendation_baselines(choice: RecData, final: RecData, *, seed: int,
                             progress: ProgressFn | None = None) -> dict[str, Any]:
    """`baselines` (each with test `metrics`, its best `validation` metrics, the `chosen`
    hyper-parameters, seconds and peak memory) and `strongest_pooled`, on the pooled
    choice/final splits (`federation.data.interactions.validation_split`)."""
    say = progress or (lambda _m: None)
    key = ("hr10", "ndcg10")
    out: dict[str, dict[str, Any]] = {}
    for family, grid in _rec_families(seed).items():
        say(f"pooled baseline {family}")

        def run(family: str = family, grid: RecFamily = grid) -> dict[str, Any]:
            tried = [(p, bl.score_ranking(s, choice)) for p, s in grid(choice)]
            params, validation = _best(tried, key)
            metrics = bl.score_ranking(_refit(family, params, final, seed), final)
            return {"metrics": metrics, "validation": validation, "chosen": params,
                    "grid_size": len(tried)}
        out[family] = measured(run)
    return {"baselines": out, "strongest_pooled": _strongest(out, key)}


# ---------------------------------------------------------------- churn

def churn_baselines(x: dict[str, np.ndarray], y: dict[str, np.ndarray],
                    recency: dict[str, np.ndarray] | None, *, seed: int,
                    progress: ProgressFn | None = None) -> dict[str, Any]:
    """Logistic regression, LightGBM and the recency rule on the pooled `fit`, `val` and
    `test` rows (`x`, `y`, and the raw days since the last purchase where the data has
    them); each chosen on `val`, refitted on fit + val, scored once on test."""
    say = progress or (lambda _m: None)
    x_all = np.concatenate([x["fit"], x["val"]])
    y_all = np.concatenate([y["fit"], y["val"]])

    def auc(scores: np.ndarray, part: str) -> dict[str, float]:
        return {"auc": roc_auc(y[part], scores)}

    def logistic() -> dict[str, Any]:
        tried = [({"c": c}, auc(bl.logistic(x["fit"], y["fit"], c=c, seed=seed)
                                .predict(x["val"]), "val")) for c in LOGISTIC_C]
        params, validation = _best(tried, ("auc",))
        fitted = bl.logistic(x_all, y_all, c=params["c"], seed=seed)
        return {"metrics": auc(fitted.predict(x["test"]), "test"), "validation": validation,
                "chosen": params, "grid_size": len(tried)}

    def lightgbm() -> dict[str, Any]:
        tried = []
        for leaves in LIGHTGBM_LEAVES:
            fitted = bl.lightgbm(x["fit"], y["fit"], num_leaves=leaves,
                                 learning_rate=LIGHTGBM_RATE, seed=seed, x_val=x["val"],
                                 y_val=y["val"])
            tried.append(({"num_leaves": leaves, "learning_rate": LIGHTGBM_RATE,
                           **fitted.chosen}, auc(fitted.predict(x["val"]), "val")))
        params, validation = _best(tried, ("auc",))
        final = bl.lightgbm(x_all, y_all, num_leaves=params["num_leaves"],
                            learning_rate=LIGHTGBM_RATE, seed=seed,
                            n_estimators=params["n_estimators"])
        return {"metrics": auc(final.predict(x["test"]), "test"), "validation": validation,
                "chosen": params, "grid_size": len(tried)}

    def recency_rule() -> dict[str, Any]:
        assert recency is not None
        tried = [({"direction": d}, auc(bl.recency_rule(recency["val"], direction=d), "val"))
                 for d in (1, -1)]
        params, validation = _best(tried, ("auc",))
        return {"metrics": auc(bl.recency_rule(recency["test"], **params), "test"),
                "validation": validation, "chosen": params, "grid_size": len(tried)}

    out: dict[str, dict[str, Any]] = {}
    say("pooled baseline logistic regression")
    out["logistic_regression"] = measured(logistic)
    say("pooled baseline LightGBM")
    out["lightgbm"] = measured(lightgbm)
    if recency is not None:
        out["recency_rule"] = measured(recency_rule)
    else:
        out["recency_rule"] = {"applicable": False, "why": "a customer table has no "
                               "purchase times; the rule needs a transaction log"}
    return {"baselines": out, "strongest_pooled": _strongest(out, ("auc",))}
