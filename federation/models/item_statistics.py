"""The recommender's item side under DP, from two noisy sums instead of DP-SGD. Pure numpy.

DP-SGD on the item side learns nothing on MovieLens small at epsilon 8: about 600 customers
buy about 100 noisy steps, and the factorization needs thousands. What the sequential model
mostly learns is which items follow which, and that is a sum over customers, which one
Gaussian mechanism releases at once:

1. Popularity: each customer adds their item set, scaled to L2 norm 1. Its noisy sum picks
   the TOP items (and orders everything for the non-personalized list).
2. Transitions among those items: each customer adds the pairs (an item, one of the CONTEXT
   items before it), also scaled to L2 norm 1.

One customer moves each sum by at most 1 in L2 (the privacy unit is one customer), so each
release is a Gaussian mechanism with noise multiplier sigma; Opacus' PRV accountant (tight
for Gaussian releases) composes the two and every retried attempt. The coordinator factorizes
the noisy transition matrix into the model's item and context embeddings: post-processing,
free under DP. The model's score is then the mean transition score from a customer's last
CONTEXT items and from their whole history, plus a small popularity prior: the brand computes
each customer's vector from their own history and the released side, and fits nothing.

With secure aggregation only the sum is revealed, so each brand adds its share of the noise,
sigma / sqrt(n): SecAgg+ is then run to unmask the sum only with every brand's share in it
(a brand dropping out halts the round, which is retried and counted). Without it every brand
adds the full sigma itself. OpenDP samples the noise; a brand refuses to answer with less
than its run settings allow.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from federation.models.recommend import CONTEXT, RecData

TOP_ITEMS = 150
POP_NOISE_RATIO = 4.0  # popularity only has to rank items: it gets a far noisier release
PRIOR = 0.6  # weight of normalized popularity beside the mean transition score
FLOOR = 1e3  # items outside the top sit below every top item, ordered by popularity


@dataclass(frozen=True)
class StatisticsPlan:
    """Noise multipliers of the two releases and how many items the second covers."""
    pair_sigma: float
    delta: float
    top: int
    pair_releases: int = 1  # sums at pair_sigma: transitions (and the Gram, co-occurrence)

    @property
    def pop_sigma(self) -> float:
        return self.pair_sigma * POP_NOISE_RATIO

    def epsilon(self, attempts: int = 1) -> float:
        return self._epsilon(attempts)[0]

    def _epsilon(self, attempts: int) -> tuple[float, str]:
        """Opacus' PRV accountant, which is tight for plain Gaussian releases; where it
        cannot discretize (far-off sigmas), its RDP accountant's looser bound."""
        from opacus.accountants import PRVAccountant, RDPAccountant  # heavy: on first use

        history = [(self.pop_sigma, 1.0, attempts),
                   (self.pair_sigma, 1.0, attempts * self.pair_releases)]
        with warnings.catch_warnings():  # sample rate 1 is a log(0) PRV handles
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            try:
                prv = PRVAccountant()
                prv.history = history
                return float(prv.get_epsilon(self.delta)), "opacus.prv"
            except RuntimeError:
                rdp = RDPAccountant()
                rdp.history = history
                return float(rdp.get_epsilon(self.delta)), "opacus.rdp"

    def report(self, attempts: int = 1) -> dict[str, float | int | str]:
        epsilon, accountant = self._epsilon(attempts)
        return {"epsilon": round(epsilon, 4), "delta": self.delta,
                "noise_multiplier": round(self.pair_sigma, 4),
                "popularity_noise_multiplier": round(self.pop_sigma, 4), "clip": 1.0,
                "top_items": self.top,
                "releases": (1 + self.pair_releases) * attempts, "privacy_unit": "customer",
                "mechanism": "gaussian item statistics", "accountant": accountant}


@lru_cache(maxsize=64)
def plan_statistics(*, target_epsilon: float, delta: float, n_items: int,
                    top: int = TOP_ITEMS, pair_releases: int = 1) -> StatisticsPlan:
    """The smallest noise whose releases (popularity, then `pair_releases` sums at the pair
    noise) stay within `target_epsilon` (bisection on the accountant, which is monotone in
    sigma)."""
    if target_epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("target epsilon must be > 0 and delta in (0, 1)")
    lo, hi = 0.05, 200.0
    for _ in range(20):
        mid = math.sqrt(lo * hi)
        if StatisticsPlan(mid, delta, 1, pair_releases).epsilon() > target_epsilon:
            lo = mid
        else:
            hi = mid
    return StatisticsPlan(hi, delta, max(1, min(top, n_items)), pair_releases)


def noise_share(sigma: float, n_brands: int, *, secure: bool) -> float:
    """Each brand's noise std: under SecAgg+ only the sum of all n brands is ever revealed,
    and it has std sigma; without it each brand's own answer must carry all of it."""
    return sigma / math.sqrt(n_brands) if secure else sigma


def popularity_sum(data: RecData, *, scaled: bool = True) -> np.ndarray:
    """Sum over customers of their item indicator scaled to norm 1 (`scaled`; else plain
    counts of the customers who bought each item, a run without DP)."""
    out = np.zeros(data.n_items)
    for items in data.user_histories:
        bought = np.unique(items)
        if len(bought):
            out[bought] += 1.0 / math.sqrt(len(bought)) if scaled else 1.0
    return out


def transition_sum(data: RecData, top: np.ndarray, *, lags: int = CONTEXT,
                   scaled: bool = True) -> np.ndarray:
    """Sum over customers of their (earlier item, item) pair counts among `top`, row-major
    (earlier item is the row), the earlier item up to `lags` steps back; each customer's
    counts scaled to norm 1 (`scaled`; else plain counts, a run without DP)."""
    m = len(top)
    pos = np.full(data.n_items, -1, dtype=np.int64)
    pos[top] = np.arange(m)
    out = np.zeros(m * m)
    for items in data.user_histories:
        p = pos[items]
        pairs = [np.stack([p[:-k], p[k:]], 1) for k in range(1, lags + 1) if len(p) > k]
        if not pairs:
            continue
        both = np.concatenate(pairs)
        both = both[(both >= 0).all(1)]
        if not len(both):
            continue
        cells, counts = np.unique(both[:, 0] * m + both[:, 1], return_counts=True)
        out[cells] += counts / np.linalg.norm(counts) if scaled else counts
    return out


def noisy(total: np.ndarray, std: float) -> np.ndarray:
    """`total` plus Gaussian noise of `std`, sampled by OpenDP (exact, from OS entropy:
    the run's seed is known to the coordinator, the noise must not be)."""
    if std <= 0:
        raise ValueError("item statistics never leave a brand without noise")
    import opendp.prelude as dp  # heavy (it loads scikit-learn): only where noise is drawn

    dp.enable_features("contrib")
    mechanism = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=float, nan=False)),
                                   dp.l2_distance(T=float), scale=float(std))
    return np.asarray(mechanism(total.astype(np.float64).tolist()), dtype=np.float64)


def top_items(popularity: np.ndarray, top: int) -> np.ndarray:
    return np.sort(np.argsort(-popularity, kind="stable")[:top])


def item_side(popularity: np.ndarray, transitions: np.ndarray, top: np.ndarray,
              dim: int) -> list[np.ndarray]:
    """The SequentialMF item side (items, context, item_bias) from the released sums: a
    rank-`dim` SVD of the transition matrix, so that a context item's embedding dotted with
    an item's is that pair's transition score."""
    n_items, m = len(popularity), len(top)
    u, s, vt = np.linalg.svd(transitions.reshape(m, m))
    d = min(dim, m)
    root = np.sqrt(s[:d])
    items = np.zeros((n_items, dim), dtype=np.float32)
    context = np.zeros((n_items + 1, dim), dtype=np.float32)
    items[top, :d] = vt[:d].T * root
    context[top, :d] = u[:, :d] * root
    scale = max(float(popularity[top].max()), 1e-9)
    bias = PRIOR * popularity / scale - FLOOR
    bias[top] += FLOOR
    return [items, context, bias.astype(np.float32)[:, None]]

