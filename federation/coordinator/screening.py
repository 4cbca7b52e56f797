"""Screening brand updates before they are averaged: a reply with NaN or Inf, arrays of the
wrong shape, or an update whose norm is absurd next to the others is rejected and recorded,
never aggregated.

Applies where the coordinator sees individual updates (plain rounds, robust strategies). Under
SecAgg+ it sees only the sum; there the brands' own wire audit and DP clipping bound what one
brand can contribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

NORM_RATIO = 10.0  # an update 10x the median update norm is not a training step
NORM_FLOOR = 1e-3


@dataclass(frozen=True)
class Rejection:
    server_round: int
    node_id: int
    reason: str


def screen(updates: Sequence[tuple[int, list[np.ndarray]]], reference: list[np.ndarray], *,
           norm_ratio: float | None = NORM_RATIO) -> tuple[list[int], list[tuple[int, str]]]:
    """Pure: which (index) updates pass, and why the others do not. `reference` is what the
    coordinator sent this round; an update's norm is its distance from it."""
    shapes = [a.shape for a in reference]
    bad: list[tuple[int, str]] = []
    norms: dict[int, float] = {}
    for k, (_node, arrays) in enumerate(updates):
        if [a.shape for a in arrays] != shapes:
            got = [list(a.shape) for a in arrays]
            bad.append((k, f"shapes {got} != {[list(s) for s in shapes]}"))
        elif not all(np.isfinite(a).all() for a in arrays):
            bad.append((k, "non-finite values (NaN or Inf)"))
        else:
            norms[k] = float(np.sqrt(sum(float(((a - r) ** 2).sum())
                                         for a, r in zip(arrays, reference, strict=True))))
    if norm_ratio is not None and norms:
        limit = max(norm_ratio * float(np.median(list(norms.values()))), NORM_FLOOR)
        for k, n in norms.items():
            if n > limit:
                bad.append((k, f"update norm {n:.3g} over {limit:.3g} ({norm_ratio:g}x median)"))
    rejected = {k for k, _ in bad}
    ok = [k for k in norms if k not in rejected]
    return sorted(ok), sorted(bad)


class ScreenedMixin:
    """Put before a Flower Message-API strategy class: remembers what it sent each round and
    drops the replies that fail `screen` before the strategy aggregates."""

    norm_ratio: float | None = NORM_RATIO

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        self._sent = arrays.to_numpy_ndarrays()
        self.rejections: list[Rejection] = getattr(self, "rejections", [])
        return super().configure_train(server_round, arrays, config, grid)  # type: ignore[misc]

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        candidates = [(i, m) for i, m in enumerate(replies)
                      if not m.has_error() and "arrays" in m.content.array_records]
        updates = [(m.metadata.src_node_id,
                    m.content.array_records["arrays"].to_numpy_ndarrays())
                   for _, m in candidates]
        ok, bad = screen(updates, self._sent, norm_ratio=self.norm_ratio)
        for k, reason in bad:
            self.rejections.append(Rejection(server_round, updates[k][0], reason))
        keep = {candidates[k][0] for k in ok}
        passed = [m for i, m in enumerate(replies) if i in keep or replies[i].has_error()]
        return super().aggregate_train(server_round, passed)  # type: ignore[misc, no-any-return]


def screened(strategy_cls: type[FedAvg], **kwargs: Any) -> FedAvg:
    cls = type(f"Screened{strategy_cls.__name__}", (ScreenedMixin, strategy_cls), {})
    return cls(**kwargs)  # type: ignore[no-any-return]
