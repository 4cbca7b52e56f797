"""Item-item recommenders a federation computes exactly: EASE on the Gram matrix X'X
(Steck, 2019), first-order transitions (the Markov baseline's, Rendle et al., 2010) and a
blend of the two. Pure numpy and scipy.

X'X and the transition counts are sums over customers, so each brand adds up its own and
SecAgg+ reveals only the alliance's total (`federation.coordinator.family`): without DP that
total is exactly the pooled statistic (restricted to the TOP items of a first popularity
release, N sized by the catalogue and a memory limit), and the closed forms of
`federation.models.baselines` run on it unchanged.

Under DP only popularity and the Gram are released (one pair release, not two: on MovieLens
the noisy transitions never won federated validation, and dropping them cuts the Gram's
noise from 0.86 to 0.62 at epsilon 8). Each customer's x x' over the TOP items (x their 0/1
vector over their last DP_RECENT_ITEMS items) is divided by the norm of its upper triangle,
sqrt(n(n+1)/2), so the released triangle moves by exactly 1 in L2 per customer. The
coordinator then keeps only the Gram's eigen-components above the noise's spectral edge,
2 sigma sqrt(N) (the largest eigenvalue of an N x N symmetric Gaussian matrix; Furedi &
Komlos, 1981): post-processing, free under DP, which removes most of the noise and, with
it, what is specific to one customer. The brands (and anyone holding the shared model) get
that low-rank Gram only; the outsider's membership attack is run against it.

EASE scores a customer from their history, each item weighted 0.5 ** (age / half) by how
many items ago it was bought (`half` chosen on validation; None weighs all alike): the next
item follows the last few (the signal the Markov baseline reads), and the weighting is the
brand's own, on its own customers' histories, at no privacy cost.

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
EASE_RELATIVE_LAMBDAS = (4.0, 16.0, 64.0, 256.0)
# Half-lives (in items) of the history weights EASE scores with (None: all weigh alike).
RECENCY_HALVES: tuple[float | None, ...] = (None, 10.0, 5.0, 2.0)
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


def scaled_rows(data: RecData, top: np.ndarray) -> sp.csr_matrix:
    """Each customer's 0/1 row over `top` times 1 / (n(n+1)/2) ** (1/4), n their items
    there: the row r with r r' = x x' / sqrt(n(n+1)/2), whose upper triangle (diagonal
    included, what is released) has L2 norm exactly 1."""
    x = bl.interactions_matrix(data)[:, top]
    n = np.asarray(x.sum(1)).ravel()
    n = np.where(n > 0, n, 1.0)
    return sp.csr_matrix(sp.diags((n * (n + 1) / 2) ** -0.25) @ x)


def gram_sum(data: RecData, top: np.ndarray, *, scaled: bool) -> np.ndarray:
    """The upper triangle (row-major, diagonal included) of X'X over `top`, summed over
    the customers of `data`; `scaled`: each customer's triangle scaled to norm 1."""
    x = scaled_rows(data, top) if scaled else bl.interactions_matrix(data)[:, top]
    return bl.gram_matrix(x)[np.triu_indices(len(top))]


def noise_edge(sigma: float, m: int) -> float:
    """The largest eigenvalue of an m x m symmetric matrix of N(0, sigma^2) entries, for
    large m: 2 sigma sqrt(m) (Furedi & Komlos, 1981)."""
    return 2.0 * sigma * math.sqrt(m)


def low_rank(gram: np.ndarray, sigma: float) -> np.ndarray:
    """The noisy Gram's eigen-components above the noise edge (at least one): what stands
    out of noise of `sigma` per cell; the rest is mostly noise."""
    w, q = np.linalg.eigh(gram)
    keep = w > noise_edge(sigma, len(gram))
    if not keep.any():
        keep = w == w.max()
    return np.asarray((q[:, keep] * w[keep]) @ q[:, keep].T)


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
    Gram matrix and transition counts (under DP: noisy popularity, the Gram's components
    above the noise edge, and no transitions, an empty array)."""
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
        if tri.shape != (m * (m + 1) // 2,) or trans.shape not in ((m * m,), (0,)):
            raise ValueError("released statistics do not match their item count")
        return cls(np.asarray(pop, np.float64), np.asarray(top, np.int64),
                   gram_from_triangle(np.asarray(tri, np.float64), m),
                   np.asarray(trans, np.float64).reshape(m, m) if len(trans) else
                   np.zeros((0, 0)))

    @property
    def has_transitions(self) -> bool:
        return self.transitions.size > 0

    @property
    def normalised_popularity(self) -> np.ndarray:
        return self.popularity / max(float(self.popularity.max()), 1e-12)

    def transition_matrix(self) -> sp.csr_matrix:
        """Row-normalised transitions over the catalogue (noise below zero clipped)."""
        if not self.has_transitions:
            raise ValueError("this release has no transitions (a private one)")
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
        half = cand.get("half")
        x = bl.recency_rows(data, stats.top, None if half is None else float(half))
        b = _ease_b(stats, float(cand["lam"]))
        return lambda rows: bl.embed_top(np.asarray(x[rows] @ b), stats.top, pop)
    if family == "markov":
        return bl.markov_scorer(data, stats.transition_matrix(), pop,
                                window=int(cand["window"]), decay=float(cand["decay"]),
                                prior=float(cand["prior"]))
    if family == "blend":
        e = scorer(stats, data, {"family": "ease", "lam": cand["lam"],
                                 "half": cand.get("half")})
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
    """Round one of the choice: EASE's lambdas times the history half-lives, and the
    transitions' grid where they were released."""
    lams = relative_lambdas(stats) if private else list(EASE_LAMBDAS)
    return ([{"family": "ease", "lam": lam, "half": h} for lam in lams
             for h in RECENCY_HALVES]
            + ([{"family": "markov", **p} for p in MARKOV] if stats.has_transitions else []))


def blend_candidates(best_ease: Candidate, best_markov: Candidate) -> list[Candidate]:
    """Round two: the best EASE and the best transitions, blended at BLEND_WEIGHTS."""
    markov = {k: v for k, v in best_markov.items() if k != "family"}
    return [{"family": "blend", "lam": best_ease["lam"], "half": best_ease.get("half"),
             "markov": markov, "weight": w} for w in BLEND_WEIGHTS]


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


DP_RECENT_ITEMS = 100  # under DP a customer contributes their last this many items
STAGES = ("gram", "successions")
PRIVATE_STAGES = ("gram",)  # under DP: the transitions never won validation, see above


def cooccurrence_plan(*, target_epsilon: float, delta: float, n_items: int
                      ) -> StatisticsPlan:
    """The noise of a private release: popularity, then PRIVATE_STAGES at the pair noise,
    composed by the item-statistics accountant."""
    return plan_statistics(target_epsilon=target_epsilon, delta=delta, n_items=n_items,
                           top=top_size(n_items, private=True),
                           pair_releases=len(PRIVATE_STAGES))


def stage_sum(stage: str, data: RecData, top: np.ndarray, *, private: bool) -> np.ndarray:
    """A brand's sum for one of STAGES (before any noise): exact counts without DP; under DP
    over each customer's last DP_RECENT_ITEMS items, scaled to norm 1 per customer."""
    if private and stage not in PRIVATE_STAGES:
        raise ValueError(f"'{stage}' is not released under DP (only "
                         f"{', '.join(PRIVATE_STAGES)}): its noise is not in the plan")
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
    with counts (exact releases only: a private one has no transitions)."""
    local = recent(data, DP_RECENT_ITEMS) if private else data
    x = scaled_rows(local, top) if private else bl.interactions_matrix(local)[:, top]
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


def release_of(data: RecData, plan: StatisticsPlan | None,
               noise: Callable[[np.ndarray, float], np.ndarray] = noisy) -> Cooccurrence:
    """The statistics the federation would release from `data`'s customers alone, by the
    brands' sums and the coordinator's post-processing (`plan` None: exact)."""
    private = plan is not None
    m = plan.top if plan is not None else top_size(data.n_items, private=False)
    pop = popularity_sum(data, scaled=private)
    if plan is not None:
        pop = noise(pop, plan.pop_sigma)
    top = top_items(pop, m)
    gram = stage_sum("gram", data, top, private=private)
    if plan is None:
        return Cooccurrence.from_arrays([pop, top, gram,
                                         stage_sum("successions", data, top, private=False)])
    return private_release(pop, top, noise(gram, plan.pair_sigma), plan.pair_sigma)


def private_release(pop: np.ndarray, top: np.ndarray, noisy_gram: np.ndarray, sigma: float
                    ) -> Cooccurrence:
    """What leaves the coordinator of a private release: popularity, the TOP items and the
    noisy Gram's components above the noise edge; no transitions."""
    gram = low_rank(gram_from_triangle(noisy_gram, len(top)), sigma)
    return Cooccurrence(np.asarray(pop, np.float64), np.asarray(top, np.int64), gram,
                        np.zeros((0, 0)))


def membership_attack(data: RecData, *, private: bool, plan: StatisticsPlan | None,
                      seed: int, noise: Callable[[np.ndarray, float], np.ndarray] = noisy
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Membership inference against the released item side, as an outsider holding it
    could run it: the customers are split into members (a release is made from them alone,
    by the same sums, noise and post-processing as the federation's, `release_of`),
    non-members and the attacker's own reference customers. The attacker knows a target's
    history, hence what the target would have added to each sum, c, and scores
    <released - reference, c> / |c|^2 for the Gram and (exact releases) the transitions,
    the reference rescaled to the members' count: the linear test that is most powerful
    against a Gaussian sum. Against the low-rank private Gram this plain test did better
    on MovieLens (holdout advantage 0.11-0.14 at epsilon 8) than the same test projected
    on the release's eigenvectors (about 0) or the share of the target's row inside the
    released subspace (0.06-0.15), so it is the one run. Returns the members' and the
    non-members' scores (higher: more likely a member)."""
    rng = np.random.default_rng(seed)
    third = np.array_split(rng.permutation(data.n_users), 3)
    members, outsiders, reference = (users_subset(data, t) for t in third)
    if private and plan is None:
        raise ValueError("a private release needs its plan")
    stats = release_of(members, plan if private else None, noise)
    top, m = stats.top, len(stats.top)
    ratio = members.n_users / max(reference.n_users, 1)
    gram = stats.gram - ratio * gram_from_triangle(stage_sum("gram", reference, top,
                                                             private=private), m)
    trans = (stats.transitions.ravel() - ratio * stage_sum("successions", reference, top,
                                                           private=False)
             if stats.has_transitions else None)

    def scores(d: RecData) -> np.ndarray:
        x, cells = _own_contributions(d, top, private=private)
        xg = np.asarray(x @ gram)
        g = np.asarray(x.multiply(xg).sum(1)).ravel() / np.asarray(
            x.multiply(x).sum(1)).ravel().clip(min=1e-12) ** 2
        t = np.zeros(d.n_users)
        if trans is not None:
            for u, c in enumerate(cells):
                if len(c):
                    cs, counts = np.unique(c, return_counts=True)
                    w = counts.astype(float)
                    t[u] = float(trans[cs] @ w) / float(w @ w)
        return np.asarray(g + t)
    return scores(members), scores(outsiders)
