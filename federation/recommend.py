"""Recommendation model: matrix factorisation with BPR (Rendle et al., 2009), split so that
item embeddings are federated and user embeddings never leave the brand (federated
collaborative filtering, Ammad-ud-din et al., 2019). Plain PyTorch, no I/O.

Evaluation is full ranking with leave-last-out: each user's last interaction is held out,
every item the user has not trained on is ranked, HR@10 and NDCG@10 are averaged over users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from federation.dpsgd import DpPlan, train_dp

PAIRS_PER_USER = 16


@dataclass(frozen=True)
class RecData:
    """One brand's interactions with local user indices and global item indices."""
    n_users: int
    n_items: int
    train_u: np.ndarray
    train_i: np.ndarray
    test_i: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.train_u)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"train_u": self.train_u, "train_i": self.train_i, "test_i": self.test_i,
                "n_items": np.asarray(self.n_items)}

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> RecData:
        return cls(len(d["test_i"]), int(d["n_items"]), d["train_u"], d["train_i"],
                   d["test_i"])


def leave_last_out(log: pd.DataFrame, item_index: dict[str, int]) -> RecData:
    """`log` has customer_id, ordered_at, item_id. Users with fewer than two distinct items
    cannot be evaluated and are left out. Repeat purchases count once (implicit feedback)."""
    log = log.sort_values(["customer_id", "ordered_at", "item_id"], kind="stable")
    log = log.drop_duplicates(["customer_id", "item_id"], keep="last")
    counts = log.groupby("customer_id")["item_id"].transform("size")
    log = log[counts >= 2]
    users = {u: k for k, u in enumerate(log["customer_id"].unique())}
    u = log["customer_id"].map(users).to_numpy(dtype=np.int64)
    i = log["item_id"].map(item_index).to_numpy(dtype=np.int64)
    last = np.r_[u[1:] != u[:-1], True]
    test = np.empty(len(users), dtype=np.int64)
    test[u[last]] = i[last]
    return RecData(len(users), len(item_index), u[~last], i[~last], test)


class MatrixFactorization(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.users.weight, std=0.1)
        nn.init.normal_(self.items.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)

    def score(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (self.users(u) * self.items(i)).sum(-1) + self.item_bias(i).squeeze(-1)

    def forward(self, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """Per-example BPR loss; `pos` and `neg` may carry extra dims after the batch dim."""
        if pos.dim() > u.dim():
            u = u.unsqueeze(-1).expand_as(pos)
        diff = self.score(u, pos) - self.score(u, neg)
        loss = -nn.functional.logsigmoid(diff)
        return loss.reshape(loss.shape[0], -1).mean(-1)

    def item_weights(self) -> list[np.ndarray]:
        return [self.items.weight.detach().numpy().copy(),
                self.item_bias.weight.detach().numpy().copy()]

    def set_item_weights(self, weights: Sequence[np.ndarray]) -> None:
        if len(weights) != 2 or weights[0].shape != tuple(self.items.weight.shape):
            raise ValueError("item weights do not match the model's item count and dimension")
        self.items.weight.data = torch.from_numpy(np.array(weights[0], dtype=np.float32))
        self.item_bias.weight.data = torch.from_numpy(np.array(weights[1], dtype=np.float32))


def build_recommender(n_users: int, n_items: int, dim: int) -> MatrixFactorization:
    return MatrixFactorization(max(n_users, 1), n_items, dim)


def bpr_loss_fn(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    u, pos, neg = batch
    return model(u, pos, neg).mean()  # type: ignore[no-any-return]


def _negatives(rng: np.random.Generator, n_items: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, n_items, size=shape)


def train_recommender(model: MatrixFactorization, data: RecData, *, epochs: int, lr: float,
                      seed: int, plan: DpPlan | None = None, batch_size: int = 1024,
                      weight_decay: float = 1e-5) -> float:
    """BPR with one uniform negative per positive. With a DP plan the example is the user:
    each user contributes PAIRS_PER_USER sampled pairs, clipped together (user-level DP)."""
    rng = np.random.default_rng(seed)
    if data.n_train == 0:
        return float("nan")
    if plan is not None:
        starts = np.searchsorted(data.train_u, np.arange(data.n_users))
        ends = np.searchsorted(data.train_u, np.arange(data.n_users), side="right")
        picks = starts[:, None] + (rng.random((data.n_users, PAIRS_PER_USER))
                                   * (ends - starts)[:, None]).astype(np.int64)
        pos = torch.from_numpy(data.train_i[picks])
        neg = torch.from_numpy(_negatives(rng, data.n_items, pos.shape))
        users = torch.arange(data.n_users)
        return train_dp(model, (users, pos, neg), bpr_loss_fn, plan=plan, lr=lr, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    u_all, i_all = torch.from_numpy(data.train_u), torch.from_numpy(data.train_i)
    last = 0.0
    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(data.n_train))
        neg_all = torch.from_numpy(_negatives(rng, data.n_items, (data.n_train,)))
        total = 0.0
        for s in range(0, data.n_train, batch_size):
            idx = perm[s:s + batch_size]
            opt.zero_grad()
            loss = model(u_all[idx], i_all[idx], neg_all[idx]).mean()
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
        last = total / data.n_train
    return last


def evaluate_ranking(model: MatrixFactorization, data: RecData, *, k: int = 10
                     ) -> dict[str, float]:
    with torch.no_grad():
        scores = (model.users.weight[:data.n_users] @ model.items.weight.T
                  + model.item_bias.weight.T).numpy()
    return rank_metrics(scores, data, k=k)


def rank_metrics(scores: np.ndarray, data: RecData, *, k: int = 10) -> dict[str, float]:
    """Full ranking: the held-out item against every item the user did not train on."""
    scores = scores.copy()
    scores[data.train_u, data.train_i] = -np.inf
    target = scores[np.arange(data.n_users), data.test_i]
    rank = (scores > target[:, None]).sum(1)
    hit = rank < k
    return {"hr10": float(hit.mean()) if data.n_users else float("nan"),
            "ndcg10": float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())
            if data.n_users else float("nan")}


def popularity_scores(data: RecData, counts: np.ndarray) -> np.ndarray:
    """The non-personalised ranking: every user gets items by global popularity."""
    return np.broadcast_to(counts.astype(np.float64), (data.n_users, len(counts)))


def membership_scores(model: MatrixFactorization, data: RecData, *, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per user: one training interaction (member) and the held-out one (non-member), each
    scored as the item's score standardized over all items for that user."""
    with torch.no_grad():
        scores = (model.users.weight[:data.n_users] @ model.items.weight.T
                  + model.item_bias.weight.T).numpy()
    z = (scores - scores.mean(1, keepdims=True)) / (scores.std(1, keepdims=True) + 1e-9)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.train_u))
    first: dict[int, int] = {}
    for k in order:
        first.setdefault(int(data.train_u[k]), int(data.train_i[k]))
    users = np.asarray(sorted(first))
    member = z[users, [first[u] for u in users]]
    nonmember = z[np.arange(data.n_users), data.test_i]
    return member, nonmember
