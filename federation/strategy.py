"""Coordinator strategies: Flower's Message-API strategies, configured for our brands."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg

STRATEGIES = ("fedavg", "trimmed-mean", "median")


def make_strategy(name: str, n_brands: int) -> FedAvg:
    """Every brand trains and evaluates each round (cross-silo, few clients)."""
    common = dict(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=n_brands,
                  min_evaluate_nodes=n_brands, min_available_nodes=n_brands)
    if name == "fedavg":
        return FedAvg(**common)
    if name == "trimmed-mean":
        return FedTrimmedAvg(beta=0.2, **common)
    if name == "median":
        return FedMedian(**common)
    raise ValueError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")
