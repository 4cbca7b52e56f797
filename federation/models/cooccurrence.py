"""Item-item recommenders a federation computes exactly: EASE on the Gram matrix X'X
(Steck, 2019), first-order transitions (the Markov baseline's, Rendle et al., 2010) and a
blend of the two. Pure numpy and scipy.

X'X and the transition counts are sums over customers, so each brand adds up its own and
SecAgg+ reveals only the alliance's total (`federation.coordinator.family`): without DP that
total is exactly the pooled statistic (restricted to the TOP items of a first popularity
release, N sized by the catalogue and a memory limit), and the closed forms of
`federation.models.baselines` run on it unchanged. Under DP each customer's contribution is
scaled to L2 norm 1, as in `federation.models.item_statistics`, and Gaussian noise added:
- Gram: x x' / |x|_1 for the customer's 0/1 vector x over the TOP items (Frobenius norm 1;
  the released upper triangle has norm at most 1);
- transitions: the customer's (item, next item) counts among TOP, scaled to norm 1.

Which family serves is chosen by federated validation: each brand scores every candidate on
its customers' validation items and sends back HR@10 and NDCG@10 only (`choose`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import scipy.sparse as sp

from federation.models import baselines as bl
from federation.models.item_statistics import (
    StatisticsPlan,
    noisy,
    plan_statistics,
    popularity_sum,
    top_items,
    transition_sum,
)
from federation.models.recommend import RecData
from federation.models.selection import best_by_validation

RANKING_KEYS = ("hr10", "ndcg10")  # HR@10 chooses, NDCG@10 breaks ties

Candidate = dict[str, Any]  # {"family": "ease", "lam": 50.0}, {"family": "markov", ...}
FAMILIES = ("ease", "markov", "blend")

# The grids (the pooled baselines use the same ones, `federation.bench.pooled`).
EASE_LAMBDAS = (10.0, 50.0, 200.0, 1000.0)
MARKOV: list[Candidate] = [dict(window=w, decay=d, prior=p) for w, d, p in product(
    (1, 2, 3, 5), (0.5, 1.0), (1e-6, 0.05)) if not (w == 1 and d == 0.5)]
# Under DP the Gram is of scaled rows, so its lambda is relative to its mean diagonal.
EASE_RELATIVE_LAMBDAS = (8.0, 32.0, 128.0, 512.0)
BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # of EASE, the rest to transitions

MAX_ITEMS = bl.MAX_ITEMS
DP_TOP_ITEMS = 150  # under DP a cell's signal must stand out of unit-scale noise
MEMORY_MB = 512  # what one party may hold for the released statistics and EASE's inverse
WORKING_COPIES = 6  # the Gram, its eigenvectors, P, B, the transitions and the wire copy


def top_size(n_items: int, *, private: bool, memory_mb: float = MEMORY_MB) -> int:
    """N, the items the Gram and transitions cover: the catalogue, capped at MAX_ITEMS
    (DP_TOP_ITEMS under DP) and at what fits `memory_mb` in WORKING_COPIES dense N x N
    float64 matrices."""
    fits = int(math.sqrt(memory_mb * 2**20 / (8 * WORKING_COPIES)))
    return max(1, min(n_items, DP_TOP_ITEMS if private else MAX_ITEMS, fits))


def recent(data: RecData, last: int) -> RecData:
    """Each customer's last `last` training items only: under DP a customer's contribution
    is bounded by their recent items, which say the most about the next one and, scaled to
    norm 1, each weigh far more than one of a long history's."""
    starts, ends = data.user_spans
    keep = np.arange(data.n_train) >= np.repeat(np.maximum(starts, ends - last), ends - starts)
    return RecData(data.n_users, data.n_items, data.train_u[keep], data.train_i[keep],
                   data.test_i)


def gram_sum(data: RecData, top: np.ndarray, *, scaled: bool) -> np.ndarray:
    """The upper triangle (row-major, diagonal included) of X'X over `top`, summed over
    the customers of `data`; `scaled`: each customer's x x' divided by their item count."""
    x = bl.interactions_matrix(data)[:, top]
    if scaled:
        n = np.asarray(x.sum(1)).ravel()
        x = sp.csr_matrix(sp.diags(1.0 / np.sqrt(np.where(n > 0, n, 1.0))) @ x)
    return bl.gram_matrix(x)[np.triu_indices(len(top))]


def gram_from_triangle(values: np.ndarray, m: int) -> np.ndarray:
    g = np.zeros((m, m))
    g[np.triu_indices(m)] = values
    return g + np.triu(g, 1).T


def successions_sum(data: RecData, top: np.ndarray, *, scaled: bool) -> np.ndarray:
    """(item, next item) counts among `top`, row-major, summed over customers."""
    return transition_sum(data, top, lags=1, scaled=scaled)


@dataclass(frozen=True)
class Cooccurrence:
    """What the federation released: popularity over the catalogue, the TOP items, their
    Gram matrix and transition counts (noisy under DP)."""
    popularity: np.ndarray
    top: np.ndarray
    gram: np.ndarray
    transitions: np.ndarray

    def to_arrays(self) -> list[np.ndarray]:
        m = len(self.top)
        return [self.popularity, self.top.astype(np.int64), self.gram[np.triu_indices(m)],
                self.transitions.ravel()]

    @classmethod
    def from_arrays(cls, arrays: list[np.ndarray]) -> Cooccurrence:
        pop, top, tri, trans = arrays
        m = len(top)
        if tri.shape != (m * (m + 1) // 2,) or trans.shape != (m * m,):
            raise ValueError("released statistics do not match their item count")
        return cls(np.asarray(pop, np.float64), np.asarray(top, np.int64),
                   gram_from_triangle(np.asarray(tri, np.float64), m),
                   np.asarray(trans, np.float64).reshape(m, m))

    @property
    def normalised_popularity(self) -> np.ndarray:
        return self.popularity / max(float(self.popularity.max()), 1e-12)

    def transition_matrix(self) -> sp.csr_matrix:
        """Row-normalised transitions over the catalogue (noise below zero clipped)."""
        n = len(self.popularity)
        t = sp.coo_matrix(self.transitions.clip(min=0.0))
        full = sp.csr_matrix((t.data, (self.top[t.row], self.top[t.col])), shape=(n, n))
        return bl.row_normalised(full)


_EASE: dict[int, tuple[np.ndarray, dict[float, np.ndarray]]] = {}


def _ease_b(stats: Cooccurrence, lam: float) -> np.ndarray:
    """EASE's B for `lam`, every lambda of one Gram from one eigendecomposition (the brand
    scores a grid of them in one round)."""
    hit = _EASE.get(id(stats.gram))
    if hit is None or hit[0] is not stats.gram or lam not in hit[1]:
        lams = {lam, *EASE_LAMBDAS, *relative_lambdas(stats)}
        _EASE.clear()
        _EASE[id(stats.gram)] = (stats.gram, bl.ease_weights(stats.gram, sorted(lams)))
    return _EASE[id(stats.gram)][1][lam]


def relative_lambdas(stats: Cooccurrence) -> list[float]:
    scale = max(float(np.mean(np.diag(stats.gram))), 1e-9)
    return [round(r * scale, 6) for r in EASE_RELATIVE_LAMBDAS]


def scorer(stats: Cooccurrence, data: RecData, cand: Candidate) -> bl.Scorer:
    """Scores of every item for `data`'s users from the released statistics."""
    family = cand["family"]
    pop = stats.normalised_popularity
    if family == "ease":
        x = bl.interactions_matrix(data)[:, stats.top]
        b = _ease_b(stats, float(cand["lam"]))
        return lambda rows: bl.embed_top(np.asarray(x[rows] @ b), stats.top, pop)
    if family == "markov":
        return bl.markov_scorer(data, stats.transition_matrix(), pop,
                                window=int(cand["window"]), decay=float(cand["decay"]),
                                prior=float(cand["prior"]))
    if family == "blend":
        e = scorer(stats, data, {"family": "ease", "lam": cand["lam"]})
        mk = scorer(stats, data, {"family": "markov", **cand["markov"]})
        w = float(cand["weight"])

        def blended(rows: np.ndarray) -> np.ndarray:
            a, b = e(rows), mk(rows)
            return w * a / _row_scale(a, stats.top) + (1 - w) * b / _row_scale(b, stats.top)
        return blended
    raise ValueError(f"unknown recommender family '{family}' ({', '.join(FAMILIES)})")


def _row_scale(scores: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Each row's largest |score| over the TOP items, so that two families' scores add on
    one scale."""
    return np.abs(scores[:, top]).max(1, keepdims=True).clip(min=1e-12)


def first_candidates(stats: Cooccurrence, *, private: bool) -> list[Candidate]:
    """Round one of the choice: EASE's lambdas and the transitions' grid."""
    lams = relative_lambdas(stats) if private else list(EASE_LAMBDAS)
    return ([{"family": "ease", "lam": lam} for lam in lams]
            + [{"family": "markov", **p} for p in MARKOV])


def blend_candidates(best_ease: Candidate, best_markov: Candidate) -> list[Candidate]:
    """Round two: the best EASE and the best transitions, blended at BLEND_WEIGHTS."""
    markov = {k: v for k, v in best_markov.items() if k != "family"}
    return [{"family": "blend", "lam": best_ease["lam"], "markov": markov, "weight": w}
            for w in BLEND_WEIGHTS]


def validate(stats: Cooccurrence, data: RecData, candidates: list[Candidate]
             ) -> list[dict[str, float]]:
    """HR@10 and NDCG@10 of every candidate on `data`'s held-out (validation) items: what
    a brand sends back, and all it sends back."""
    return [bl.score_ranking(scorer(stats, data, c), data) for c in candidates]


def best(candidates: list[Candidate], figures: list[dict[str, float]],
         family: str | None = None) -> tuple[Candidate, dict[str, float]]:
    """The candidate (of `family`, or any) with the highest validation HR@10, NDCG@10
    breaking ties, NaN losing; the earlier one on a full tie."""
    pool = {str(k): figures[k] for k, c in enumerate(candidates)
            if family in (None, c["family"])}
    if not pool:
        raise ValueError(f"no candidate of family '{family}'")
    k = int(best_by_validation(pool, keys=RANKING_KEYS))
    return candidates[k], figures[k]


def choose(validation: dict[str, dict[str, Any]]) -> str:
    """The family to serve: the highest validation HR@10 (NDCG@10 breaks ties) among each
    family's best (`validation`: family -> {"hr10", "ndcg10", ...})."""
    return best_by_validation(validation, keys=RANKING_KEYS)


DP_RECENT_ITEMS = 50  # under DP a customer contributes their last this many items
STAGES = ("gram", "successions")


def cooccurrence_plan(*, target_epsilon: float, delta: float, n_items: int
                      ) -> StatisticsPlan:
    """The noise of a private release: popularity, then the Gram and the transitions at
    the pair noise, composed by the item-statistics accountant."""
    return plan_statistics(target_epsilon=target_epsilon, delta=delta, n_items=n_items,
                           top=top_size(n_items, private=True), pair_releases=len(STAGES))


def stage_sum(stage: str, data: RecData, top: np.ndarray, *, private: bool) -> np.ndarray:
    """A brand's sum for one of STAGES (before any noise): exact counts without DP; under DP
    over each customer's last DP_RECENT_ITEMS items, scaled to norm 1 per customer."""
    local = recent(data, DP_RECENT_ITEMS) if private else data
    if stage == "gram":
        return gram_sum(local, top, scaled=private)
    if stage == "successions":
        return successions_sum(local, top, scaled=private)
    raise ValueError(f"unknown statistics stage '{stage}'")


def users_subset(data: RecData, users: np.ndarray) -> RecData:
    """The customers `users` of `data` (sorted) as their own data set."""
    users = np.sort(np.asarray(users, dtype=np.int64))
    pos = np.full(max(data.n_users, 1), -1, dtype=np.int64)
    pos[users] = np.arange(len(users))
    keep = pos[data.train_u] >= 0
    return RecData(len(users), data.n_items, pos[data.train_u[keep]], data.train_i[keep],
                   data.test_i[users])


def _own_contributions(data: RecData, top: np.ndarray, *, private: bool
                       ) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """Per customer, the rows the release added for them: their (scaled) 0/1 vector over
    `top` (so that their Gram contribution is its outer product) and their transition cells
    with counts (scaled to norm 1 under DP)."""
    local = recent(data, DP_RECENT_ITEMS) if private else data
    x = bl.interactions_matrix(local)[:, top]
    if private:
        n = np.asarray(x.sum(1)).ravel()
        x = sp.csr_matrix(sp.diags(1.0 / np.sqrt(np.where(n > 0, n, 1.0))) @ x)
    m = len(top)
    pos = np.full(data.n_items, -1, dtype=np.int64)
    pos[top] = np.arange(m)
    cells = []
    for items in local.user_histories:
        p = pos[items]
        pairs = np.stack([p[:-1], p[1:]], 1) if len(p) > 1 else np.zeros((0, 2), np.int64)
        pairs = pairs[(pairs >= 0).all(1)]
        cells.append(pairs[:, 0] * m + pairs[:, 1])
    return x, cells


def membership_attack(data: RecData, *, private: bool, plan: StatisticsPlan | None,
                      seed: int, noise: Callable[[np.ndarray, float], np.ndarray] = noisy
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Membership inference against the released item side, as an outsider holding it
    could run it: the customers are split into members (a release is made from them alone,
    by the same sums and noise as the federation's), non-members and the attacker's own
    reference customers. The attacker knows a target's history, hence what the target
    would have added to each sum, c, and scores <released - reference, c> / |c|^2 for the
    Gram and the transitions (the reference rescaled to the members' count): the linear
    test that is most powerful against a Gaussian sum. Returns the members' and the
    non-members' scores (higher: more likely a member)."""
    rng = np.random.default_rng(seed)
    third = np.array_split(rng.permutation(data.n_users), 3)
    members, outsiders, reference = (users_subset(data, t) for t in third)
    m = plan.top if plan is not None else top_size(data.n_items, private=False)
    pop = popularity_sum(members, scaled=private)
    if plan is not None:
        pop = noise(pop, plan.pop_sigma)
    top = top_items(pop, m)
    gram = gram_from_triangle(stage_sum("gram", members, top, private=private), m)
    trans = stage_sum("successions", members, top, private=private)
    if plan is not None:
        gram = gram_from_triangle(noise(gram[np.triu_indices(m)], plan.pair_sigma), m)
        trans = noise(trans, plan.pair_sigma)
    ratio = members.n_users / max(reference.n_users, 1)
    gram = gram - ratio * gram_from_triangle(stage_sum("gram", reference, top,
                                                       private=private), m)
    trans = trans - ratio * stage_sum("successions", reference, top, private=private)

    def scores(d: RecData) -> np.ndarray:
        x, cells = _own_contributions(d, top, private=private)
        xg = np.asarray(x @ gram)
        g = np.asarray(x.multiply(xg).sum(1)).ravel() / np.asarray(
            x.multiply(x).sum(1)).ravel().clip(min=1e-12) ** 2
        t = np.zeros(d.n_users)
        for u, c in enumerate(cells):
            if len(c):
                cs, counts = np.unique(c, return_counts=True)
                w = counts / np.linalg.norm(counts) if private else counts.astype(float)
                t[u] = float(trans[cs] @ w) / float(w @ w)
        return np.asarray(g + t)
    return scores(members), scores(outsiders)
