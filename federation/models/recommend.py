"""Recommendation model: factorization with a sequential context, trained with BPR
(Rendle et al., 2009), split so that every item-side parameter is federated and user
embeddings never leave the brand (federated collaborative filtering, Ammad-ud-din et al.,
2019). Plain PyTorch, no I/O.

A user's taste is their own embedding plus the mean of the context embeddings of their last
CONTEXT items, as in Fossil (He & McAuley, 2016): what someone bought last says much about what
they buy next, and on MovieLens small it lifts HR@10 well above plain matrix factorization.
Each training pair sees only the items before it (causal context), exactly as the held-out
item sees the items before it.

Evaluation is full ranking with leave-last-out (`federation.data.interactions` holds the
last interaction out): every item the user has not trained on is ranked, HR@10 and NDCG@10
are averaged over users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

CONTEXT = 5


@dataclass(frozen=True)
class RecData:
    """One brand's interactions with local user indices and global item indices; training
    rows are sorted by user, then time."""
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

    @cached_property
    def user_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of each user's training rows."""
        users = np.arange(self.n_users)
        return (np.searchsorted(self.train_u, users),
                np.searchsorted(self.train_u, users, side="right"))

    @cached_property
    def user_histories(self) -> list[np.ndarray]:
        """Each user's training items, oldest first."""
        starts, ends = self.user_spans
        return [self.train_i[s:e] for s, e in zip(starts, ends, strict=True)]

    @cached_property
    def train_context(self) -> np.ndarray:
        """Per training row, the user's previous CONTEXT items, newest first; `n_items`
        pads (a user's first rows have less history)."""
        ctx = np.full((self.n_train, CONTEXT), self.n_items, dtype=np.int64)
        starts, _ = self.user_spans
        pos = np.arange(self.n_train) - starts[self.train_u]
        for back in range(1, CONTEXT + 1):
            rows = np.flatnonzero(pos >= back)
            ctx[rows, back - 1] = self.train_i[rows - back]
        return ctx

    @cached_property
    def last_context(self) -> np.ndarray:
        """Per user, the last CONTEXT training items: the context of the held-out item."""
        return recent_context(self.user_histories, self.n_items)


def recent_context(histories: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """Rows of the last CONTEXT items of each history (oldest first in each history),
    newest first, padded with `n_items`."""
    ctx = np.full((len(histories), CONTEXT), n_items, dtype=np.int64)
    for row, h in enumerate(histories):
        last = np.asarray(h, dtype=np.int64)[-CONTEXT:][::-1]
        ctx[row, :len(last)] = last
    return ctx


class SequentialMF(nn.Module):
    """Scores items for (user, recent items). `items`, `context` and `item_bias` are the
    shared item side; `users` stays at the brand."""

    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        self.context = nn.Embedding(n_items + 1, dim)  # the last row pads short histories
        self.item_bias = nn.Embedding(n_items, 1)
        for emb in (self.users, self.items, self.context):
            nn.init.normal_(emb.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)

    def context_mean(self, ctx: torch.Tensor) -> torch.Tensor:
        """Mean embedding of the real (unpadded) context items."""
        mask = (ctx < self.n_items).unsqueeze(-1).to(self.context.weight.dtype)
        return (self.context(ctx) * mask).sum(-2) / mask.sum(-2).clamp(min=1.0)

    def taste(self, u: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        return self.users(u) + self.context_mean(ctx)  # type: ignore[no-any-return]

    def score(self, taste: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (taste * self.items(i)).sum(-1) + self.item_bias(i).squeeze(-1)

    def forward(self, u: torch.Tensor, ctx: torch.Tensor, pos: torch.Tensor,
                neg: torch.Tensor) -> torch.Tensor:
        """Per-example BPR loss. `neg` may carry one more dim than `pos` (several negatives
        per positive)."""
        taste = self.taste(u, ctx)
        pos_score = self.score(taste, pos)
        if neg.dim() > pos.dim():
            taste, pos_score = taste.unsqueeze(-2), pos_score.unsqueeze(-1)
        loss = -nn.functional.logsigmoid(pos_score - self.score(taste, neg))
        return loss.reshape(loss.shape[0], -1).mean(-1)

    def all_scores(self, users: torch.Tensor, ctx: torch.Tensor) -> np.ndarray:
        """Scores of every item for each (user, recent items) row."""
        with torch.no_grad():
            return (self.taste(users, ctx) @ self.items.weight.T  # type: ignore[no-any-return]
                    + self.item_bias.weight.T).numpy()

    def item_weights(self) -> list[np.ndarray]:
        return [p.weight.detach().numpy().copy()
                for p in (self.items, self.context, self.item_bias)]

    def set_item_weights(self, weights: Sequence[np.ndarray]) -> None:
        if len(weights) != 3 or weights[0].shape != tuple(self.items.weight.shape):
            raise ValueError("item weights do not match the model's item count and dimension")
        for p, w in zip((self.items, self.context, self.item_bias), weights, strict=True):
            p.weight.data = torch.from_numpy(np.array(w, dtype=np.float32))

    def freeze_items(self) -> None:
        """Serving and scoring fine-tune only the brand's own user vectors."""
        for p in (self.items, self.context, self.item_bias):
            p.weight.requires_grad_(False)


def build_recommender(n_users: int, n_items: int, dim: int) -> SequentialMF:
    return SequentialMF(max(n_users, 1), n_items, dim)


def assemble(n_users: int, item_weights: Sequence[np.ndarray],
             users: np.ndarray | None = None) -> SequentialMF:
    """A brand's model: the shared item side as released, and the brand's own user vectors
    where it kept them (freshly initialised otherwise)."""
    model = build_recommender(n_users, int(item_weights[0].shape[0]),
                              int(item_weights[0].shape[1]))
    if users is not None:
        model.users.weight.data = torch.from_numpy(np.array(users, dtype=np.float32))
    model.set_item_weights(item_weights)
    return model


def train_recommender(model: SequentialMF, data: RecData, *, epochs: int, lr: float,
                      seed: int, batch_size: int = 512, negatives: int = 4,
                      weight_decay: float = 0.0,
                      after_epoch: Callable[[int], None] | None = None) -> float:
    """BPR with `negatives` uniform negatives per positive. Without DP only: a private
    recommender's item side is released as item statistics (`federation.models.item_statistics`).
    `after_epoch(n)` is called after each epoch n (1-based): the bench scores the validation
    item there to choose the epoch count in one run."""
    rng = np.random.default_rng(seed)
    if data.n_train == 0:
        return float("nan")
    ctx_all = torch.tensor(data.train_context)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    model.train()
    u_all, i_all = torch.tensor(data.train_u), torch.tensor(data.train_i)
    last = 0.0
    for epoch in range(epochs):
        perm = torch.from_numpy(rng.permutation(data.n_train))
        neg_all = torch.from_numpy(rng.integers(0, data.n_items, (data.n_train, negatives)))
        total = 0.0
        for s in range(0, data.n_train, batch_size):
            idx = perm[s:s + batch_size]
            opt.zero_grad()
            loss = model(u_all[idx], ctx_all[idx], i_all[idx], neg_all[idx]).mean()
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
        last = total / data.n_train
        if after_epoch is not None:
            after_epoch(epoch + 1)
            model.train()
    return last


FOLD_IN_EPOCHS = 5


def history_taste(context: np.ndarray, data: RecData) -> np.ndarray:
    """Per user, the mean context embedding over every item of their history (items the
    released statistics do not cover have zero embeddings and count as such): a user
    vector computed at the brand, not fitted."""
    n = max(data.n_users, 1)
    sums = np.zeros((n, context.shape[1]), dtype=np.float64)
    np.add.at(sums, data.train_u, context[data.train_i])
    counts = np.bincount(data.train_u, minlength=n).clip(min=1)
    return (sums / counts[:, None]).astype(np.float32)


def fold_in(item_weights: Sequence[np.ndarray], data: RecData, *, lr: float, seed: int,
            epochs: int = FOLD_IN_EPOCHS, fit_user_vectors: bool = True) -> SequentialMF:
    """The brand's own user vectors fitted against the frozen shared item side. Serving,
    audits and benchmarks get user vectors this way: the run's copies stayed in node state
    at the brand and were never stored with the model. A model released as DP item
    statistics is not fitted to (`fit_user_vectors=False`): its user vector is the mean context
    embedding of the user's whole history, beside the mean of their last CONTEXT items."""
    torch.manual_seed(seed)
    model = assemble(data.n_users, item_weights, None if fit_user_vectors else
                     history_taste(np.asarray(item_weights[1]), data))
    model.freeze_items()
    if not fit_user_vectors:
        model.users.weight.requires_grad_(False)
        return model
    train_recommender(model, data, epochs=epochs, lr=lr, seed=seed)
    return model


def user_scores(model: SequentialMF, data: RecData) -> np.ndarray:
    """Every item's score for every user of `data`, at the held-out item's moment."""
    return model.all_scores(torch.arange(data.n_users), torch.from_numpy(data.last_context))


def evaluate_ranking(model: SequentialMF, data: RecData, *, k: int = 10) -> dict[str, float]:
    return rank_metrics(user_scores(model, data), data, k=k)


def held_out_ranks(scores: np.ndarray, seen_rows: np.ndarray, seen_items: np.ndarray,
                   targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's held-out item among the items that row did not train on
    (`seen_rows`, `seen_items`: its training interactions, which are never recommended).
    Score ties count against the held-out item: its rank is the number of other candidate
    items scoring at least as high, so a model that scores everything alike ranks it last,
    not first."""
    scores = np.array(scores, dtype=np.float64)
    scores[seen_rows, seen_items] = -np.inf
    rows = np.arange(len(targets))
    target = scores[rows, targets]
    rank = ((scores >= target[:, None]) & (scores > -np.inf)).sum(1) - 1
    rank[~(target > -np.inf)] = scores.shape[1]  # a seen (or NaN-scored) target: a miss
    return rank


def ranking_summary(rank: np.ndarray, *, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k (one relevant item: 1 / log2(rank + 2) when it is in the top k)."""
    if not len(rank):
        return {"hr10": float("nan"), "ndcg10": float("nan")}
    hit = rank < k
    return {"hr10": float(hit.mean()),
            "ndcg10": float(np.where(hit, 1 / np.log2(np.maximum(rank, 0) + 2), 0).mean())}


def rank_metrics(scores: np.ndarray, data: RecData, *, k: int = 10) -> dict[str, float]:
    """Full ranking: the held-out item against every item the user did not train on."""
    return ranking_summary(held_out_ranks(scores, data.train_u, data.train_i, data.test_i),
                           k=k)


def popularity_scores(data: RecData, counts: np.ndarray) -> np.ndarray:
    """The non-personalised ranking: every user gets items by global popularity."""
    return np.broadcast_to(counts.astype(np.float64), (data.n_users, len(counts)))


def membership_scores(model: SequentialMF, data: RecData, *, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per user: one training interaction (member) and the held-out one (non-member), each
    scored as the item's score standardized over all items for that user."""
    scores = user_scores(model, data)
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
