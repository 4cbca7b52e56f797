"""Seeded non-IID partitions of one dataset into brands, for benchmarks.

Label skew by a Dirichlet over classes (Hsu et al., 2019), the usual way to make
federated benchmarks non-IID; users of a transaction log are split the same way over a
coarse taste group, so brands differ in which items their customers buy.
"""

from __future__ import annotations

import numpy as np


def dirichlet_split(groups: np.ndarray, k: int, *, alpha: float, seed: int,
                    min_size: int = 10) -> list[np.ndarray]:
    """Indices of each brand. Each group's members are spread over brands by proportions
    drawn from Dirichlet(alpha); redrawn until every brand has `min_size` members."""
    if k < 1:
        raise ValueError("need at least one brand")
    if len(groups) < k * min_size:
        raise ValueError(f"{len(groups)} rows cannot give {k} brands {min_size} rows each")
    rng = np.random.default_rng(seed)
    for _ in range(100):
        parts: list[list[int]] = [[] for _ in range(k)]
        for g in np.unique(groups):
            idx = rng.permutation(np.flatnonzero(groups == g))
            cuts = (np.cumsum(rng.dirichlet(np.full(k, alpha))) * len(idx)).astype(int)[:-1]
            for b, chunk in enumerate(np.split(idx, cuts)):
                parts[b].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise ValueError(f"could not draw {k} brands of at least {min_size} rows; raise alpha")


def stratified_split(labels: np.ndarray, test_share: float, *, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with the label mix kept in both."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for g in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == g))
        n_test = int(round(len(idx) * test_share))
        test.extend(idx[:n_test].tolist())
        train.extend(idx[n_test:].tolist())
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))
