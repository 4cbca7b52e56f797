"""Coordinator strategies: Flower's Message-API strategies, configured for our brands."""

from __future__ import annotations

from collections.abc import Iterable

from flwr.app import ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx, FedTrimmedAvg, FedXgbBagging
from flwr.serverapp.strategy.strategy_utils import aggregate_bagging

from federation.coordinator.screening import Rejection, screened
from federation.models.churn_trees import TREES_KIND, TreeParams, check_trees, from_array

STRATEGIES = ("fedavg", "fedprox", "trimmed-mean", "median")


def append_trees(global_model: bytes, brand_trees: list[bytes]) -> bytes:
    """The bagging step `FedXgbBagging` takes each round: every brand's new trees appended to
    the global model by Flower's `aggregate_bagging` (round one starts from the first brand's
    model). For callers outside a Flower round (tests, offline replays)."""
    out = global_model
    for trees in brand_trees:
        out = aggregate_bagging(out, trees)
    return out


class ScreenedBagging(FedXgbBagging):
    """Flower's bagging of XGBoost trees (`federation.models.churn_trees`), each brand's reply
    screened first: one that is not exactly one well-formed tree of at most `max_depth` with
    finite values is rejected and recorded, never appended."""

    def __init__(self, *, max_depth: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_depth = max_depth
        self.rejections: list[Rejection] = []

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        passed = []
        for m in replies:
            if not m.has_error():
                arrays = m.content.array_records.get("arrays")
                reason = ("no trees" if arrays is None or len(arrays) != 1 else check_trees(
                    from_array(arrays.to_numpy_ndarrays()[0]), max_depth=self.max_depth))
                if reason is not None:
                    self.rejections.append(Rejection(server_round, m.metadata.src_node_id,
                                                     reason))
                    continue
            passed.append(m)
        return super().aggregate_train(server_round, passed)


def make_strategy(name: str, n_brands: int, *, proximal_mu: float = 0.01,
                  model_kind: str = "mlp") -> FedAvg:
    """Every brand trains and evaluates each round (cross-silo, few clients). FedProx sends
    `proximal-mu` in the train config; our clients add the proximal term. Every strategy
    screens updates first (`federation.coordinator.screening`): NaN, Inf, wrong shapes and
    absurd norms are rejected, never averaged. Trees (`model_kind` "trees") are bagged, not
    averaged: `fedavg` is their only strategy, one tree per brand per round."""
    nodes = {"min_train_nodes": n_brands, "min_evaluate_nodes": n_brands,
             "min_available_nodes": n_brands}
    if model_kind == TREES_KIND:
        if name != "fedavg":
            raise ValueError(f"trees are bagged (fedavg), not combined by '{name}'")
        return ScreenedBagging(max_depth=TreeParams().max_depth, **nodes)
    if name == "fedavg":
        return screened(FedAvg, **nodes)
    if name == "fedprox":
        return screened(FedProx, proximal_mu=proximal_mu, **nodes)
    if name == "trimmed-mean":
        return screened(FedTrimmedAvg, beta=0.2, **nodes)
    if name == "median":
        return screened(FedMedian, **nodes)
    raise ValueError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")
