"""Strong pooled baselines for the bench: the models a federated one has to beat. Pure numpy,
scipy, scikit-learn, LightGBM and implicit; no Flower, no database, no I/O.

Recommendation (each fitted on a `RecData`'s training rows, scoring every item for its users):
- popularity: training counts, the non-personalised list;
- item-kNN: cosine similarity between item columns, each item's `neighbours` nearest kept
  (Sarwar et al., 2001; Deshpande & Karypis, 2004);
- EASE: the closed-form shallow autoencoder B = I - P diag(1 / diag P), P = (X'X + lambda I)^-1,
  with a zero diagonal (Steck, 2019);
- Markov: first-order transition probabilities from each of the user's last `window` items,
  older ones weighted by `decay` per step (the FPMC/Fossil sequential signal without the
  factorization; Rendle et al., 2010);
- ALS: implicit-feedback matrix factorization (Hu, Koren & Volinsky, 2008) from `implicit`.
Item-kNN and EASE work on the `max_items` most-bought items (a dense Gram matrix of the whole
catalogue would not fit); every other item scores below them, ordered by popularity.

Churn: logistic regression (scikit-learn), gradient-boosted trees (LightGBM, Ke et al., 2017)
and the recency-only rule (days since the last purchase).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from federation.models.recommend import RecData, held_out_ranks, ranking_summary

# Scores of every item for the given user rows of the data the scorer was fitted on.
Scorer = Callable[[np.ndarray], np.ndarray]
SCORE_BATCH = 512
MAX_ITEMS = 2500


def interactions_matrix(data: RecData, weight: float = 1.0) -> sp.csr_matrix:
    """Users x items, `weight` where the user trained on the item."""
    values = np.full(data.n_train, weight, dtype=np.float64)
    m = sp.csr_matrix((values, (data.train_u, data.train_i)),
                      shape=(max(data.n_users, 1), data.n_items))
    m.sum_duplicates()
    m.data[:] = weight
    return m


def score_ranking(scorer: Scorer, data: RecData, *, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k of `scorer` on `data`'s held-out items, users in batches (a dense
    users x items matrix of a large log would not fit), ties against the held-out item."""
    ranks = []
    for start in range(0, data.n_users, SCORE_BATCH):
        rows = np.arange(start, min(start + SCORE_BATCH, data.n_users))
        lo, hi = np.searchsorted(data.train_u, [rows[0], rows[-1] + 1])
        ranks.append(held_out_ranks(scorer(rows), data.train_u[lo:hi] - start,
                                    data.train_i[lo:hi], data.test_i[rows]))
    return ranking_summary(np.concatenate(ranks) if ranks else np.zeros(0, int), k=k)


def item_counts(data: RecData) -> np.ndarray:
    return np.bincount(data.train_i, minlength=data.n_items).astype(np.float64)


def popularity(data: RecData) -> Scorer:
    counts = item_counts(data)
    return lambda rows: np.broadcast_to(counts, (len(rows), data.n_items))


def _top(data: RecData, max_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The `max_items` most-bought items (sorted) and every item's popularity in [0, 1)."""
    counts = item_counts(data)
    top = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    return top, counts / (counts.max() + 1.0)


def embed_top(top_scores: np.ndarray, top: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Scores over the catalogue: the top items as scored, every other item below the
    row's lowest top score, ordered by popularity."""
    n_rows = top_scores.shape[0]
    floor = (top_scores.min(1, keepdims=True) - 1.0) if top_scores.size else np.zeros(
        (n_rows, 1))
    out = np.broadcast_to(floor + pop, (n_rows, len(pop))).copy()
    out[:, top] = top_scores
    return out


def item_knn(data: RecData, *, neighbours: int | None, max_items: int = MAX_ITEMS) -> Scorer:
    """score(u, j) = sum over the user's items i of cos(i, j), keeping for each item j only
    its `neighbours` most similar items (None: all)."""
    top, pop = _top(data, max_items)
    x = interactions_matrix(data)[:, top]
    gram = gram_matrix(x)
    norm = np.sqrt(np.diag(gram)).clip(min=1e-12)
    sim = gram / np.outer(norm, norm)
    np.fill_diagonal(sim, 0.0)
    if neighbours is not None and neighbours < len(top) - 1:
        cut = np.partition(sim, -neighbours, axis=0)[-neighbours]
        sim = np.where(sim >= cut[None, :], sim, 0.0)
    return lambda rows: embed_top(np.asarray(x[rows] @ sim), top, pop)


def ease_grid(data: RecData, lambdas: Iterable[float], *, max_items: int = MAX_ITEMS
              ) -> dict[float, Scorer]:
    """EASE for each lambda from one eigendecomposition of X'X (P(lambda) = Q diag(1 /
    (w + lambda)) Q'), so a grid costs one decomposition and a product per lambda."""
    top, pop = _top(data, max_items)
    x = interactions_matrix(data)[:, top]
    return {lam: (lambda b_: lambda rows: embed_top(np.asarray(x[rows] @ b_), top, pop))(b)
            for lam, b in ease_weights(gram_matrix(x), lambdas).items()}


def gram_matrix(x: sp.csr_matrix) -> np.ndarray:
    """X'X of a users x items matrix, dense: a sum over users, which is why a federation
    can add it up brand by brand (`federation.models.cooccurrence`)."""
    return np.asarray((x.T @ x).todense(), dtype=np.float64)


def ease_weights(gram: np.ndarray, lambdas: Iterable[float]) -> dict[float, np.ndarray]:
    """EASE's item-item weights B for each lambda from one eigendecomposition of the Gram
    matrix (P(lambda) = Q diag(1 / (w + lambda)) Q', B = I - P diag(1 / diag P), zero
    diagonal; Steck, 2019)."""
    w, q = np.linalg.eigh(gram)
    out: dict[float, np.ndarray] = {}
    for lam in lambdas:
        p = (q / (w + lam)) @ q.T
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        out[lam] = b
    return out


def ease(data: RecData, *, lam: float, max_items: int = MAX_ITEMS) -> Scorer:
    return ease_grid(data, [lam], max_items=max_items)[lam]


def recency_rows(data: RecData, top: np.ndarray, half: float | None) -> sp.csr_matrix:
    """Users x `top`: each history item weighted 0.5 ** (age / half), age 0 the newest, a
    repeated item's weights added (None: the plain 0/1 rows)."""
    if half is None:
        return sp.csr_matrix(interactions_matrix(data)[:, top])
    starts, ends = data.user_spans
    age = np.repeat(ends, ends - starts) - 1 - np.arange(data.n_train)
    pos = np.full(data.n_items, -1, dtype=np.int64)
    pos[top] = np.arange(len(top))
    p = pos[data.train_i]
    keep = p >= 0
    return sp.csr_matrix((0.5 ** (age[keep] / float(half)), (data.train_u[keep], p[keep])),
                         shape=(max(data.n_users, 1), len(top)))


def ease_recency_grid(data: RecData, lambdas: Iterable[float], halves: Iterable[float | None],
                      *, max_items: int = MAX_ITEMS
                      ) -> dict[tuple[float, float | None], Scorer]:
    """EASE on the plain Gram, scoring histories weighted by recency (`recency_rows`), for
    each lambda and half-life: the pooled twin of the federated co-occurrence path's
    recency-weighted EASE, so that path is not judged against a baseline without it."""
    top, pop = _top(data, max_items)
    weights = ease_weights(gram_matrix(interactions_matrix(data)[:, top]), lambdas)
    rows = {h: recency_rows(data, top, h) for h in halves}

    def scorer(b: np.ndarray, x: sp.csr_matrix) -> Scorer:
        return lambda r: embed_top(np.asarray(x[r] @ b), top, pop)

    return {(lam, h): scorer(b, x) for lam, b in weights.items() for h, x in rows.items()}


def transitions(data: RecData) -> sp.csr_matrix:
    """Row-normalised first-order transition probabilities: how often item b came right
    after item a in a user's (deduplicated, time-ordered) history."""
    return row_normalised(transition_counts(data))


def transition_counts(data: RecData) -> sp.csr_matrix:
    """How often item b came right after item a in a user's (deduplicated, time-ordered)
    history: a sum over users."""
    starts, ends = data.user_spans
    nxt = np.arange(data.n_train) + 1
    keep = np.zeros(data.n_train, dtype=bool)
    for s, e in zip(starts, ends, strict=True):
        keep[s:e - 1] = True
    a, b = data.train_i[keep], data.train_i[nxt[keep]]
    t = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(data.n_items, data.n_items))
    t.sum_duplicates()
    return t


def row_normalised(t: sp.csr_matrix) -> sp.csr_matrix:
    rows = np.asarray(t.sum(1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.where(rows > 0, rows, 1.0)) @ t)


def markov(data: RecData, *, window: int, decay: float, prior: float) -> Scorer:
    """Sum of the transition rows of the user's last `window` items (the newest weighted 1,
    each older one `decay` times the next), plus `prior` times normalised popularity (which
    orders the items no transition reaches)."""
    counts = item_counts(data)
    return markov_scorer(data, transitions(data), counts / max(counts.max(), 1.0),
                         window=window, decay=decay, prior=prior)


def markov_scorer(data: RecData, t: sp.csr_matrix, pop: np.ndarray, *, window: int,
                  decay: float, prior: float) -> Scorer:
    """`markov` from given row-normalised transitions `t` and popularity `pop` in [0, 1]
    (pooled, or as a federation released them)."""
    starts, ends = data.user_spans

    def score(rows: np.ndarray) -> np.ndarray:
        r, c, v = [], [], []
        for k, u in enumerate(rows):
            last = data.train_i[max(starts[u], ends[u] - window):ends[u]][::-1]
            r.extend([k] * len(last))
            c.extend(last.tolist())
            v.extend((decay ** np.arange(len(last))).tolist())
        ctx = sp.csr_matrix((v, (r, c)), shape=(len(rows), data.n_items))
        return np.asarray((ctx @ t).todense()) + prior * pop[None, :]
    return score


def als(data: RecData, *, factors: int, regularization: float, alpha: float,
        iterations: int, seed: int) -> Scorer:
    """implicit's CPU ALS on the binary interactions (confidence 1 + alpha)."""
    from implicit.cpu.als import AlternatingLeastSquares  # heavy: on first use
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads fight it
        model = AlternatingLeastSquares(factors=factors, regularization=regularization,
                                        alpha=alpha, iterations=iterations, random_state=seed,
                                        calculate_training_loss=False)
        model.fit(interactions_matrix(data), show_progress=False)
    users = np.asarray(model.user_factors, dtype=np.float64)
    items = np.asarray(model.item_factors, dtype=np.float64)
    return lambda rows: users[rows] @ items.T


# ---------------------------------------------------------------- churn

@dataclass(frozen=True)
class FittedChurn:
    """A fitted churn baseline: probability-like scores for feature rows, and what the fit
    chose beyond its grid point (LightGBM's tree count)."""
    predict: Callable[[np.ndarray], np.ndarray]
    chosen: dict[str, float | int]


def logistic(x: np.ndarray, y: np.ndarray, *, c: float, seed: int) -> FittedChurn:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x, y.astype(int))
    return FittedChurn(lambda rows: np.asarray(model.predict_proba(rows))[:, 1], {})


def lightgbm(x: np.ndarray, y: np.ndarray, *, num_leaves: int, learning_rate: float,
             seed: int, n_estimators: int = 1000, x_val: np.ndarray | None = None,
             y_val: np.ndarray | None = None, patience: int = 50) -> FittedChurn:
    """With validation rows, the tree count is chosen on them by early stopping on AUC (and
    returned as `n_estimators`); without, `n_estimators` trees are grown."""
    import lightgbm as lgb  # heavy: on first use

    params = {"objective": "binary", "metric": "auc", "num_leaves": num_leaves,
              "learning_rate": learning_rate, "seed": seed, "deterministic": True,
              "force_row_wise": True, "num_threads": 2, "verbose": -1}
    train = lgb.Dataset(x, y.astype(int))
    if x_val is not None and y_val is not None:
        booster = lgb.train(params, train, num_boost_round=n_estimators,
                            valid_sets=[lgb.Dataset(x_val, y_val.astype(int), reference=train)],
                            callbacks=[lgb.early_stopping(patience, verbose=False)])
        trees = int(booster.best_iteration or n_estimators)
    else:
        booster = lgb.train(params, train, num_boost_round=n_estimators)
        trees = n_estimators
    return FittedChurn(lambda rows: np.asarray(booster.predict(rows, num_iteration=trees)),
                       {"n_estimators": trees})


def recency_rule(recency_days: np.ndarray, *, direction: int) -> np.ndarray:
    """The longer since the last purchase, the likelier the churn (`direction` 1; -1
    reverses it, for a log where validation says so)."""
    return direction * np.asarray(recency_days, dtype=np.float64)
