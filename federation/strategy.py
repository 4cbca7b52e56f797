"""Coordinator strategies: Flower's Message-API strategies, configured for our brands."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg

STRATEGIES = ("fedavg", "trimmed-mean", "median")


def make_strategy(name: str, n_brands: int) -> FedAvg:
    """Every brand trains and evaluates each round (cross-silo, few clients)."""
    if name == "fedavg":
        return FedAvg(min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                      min_available_nodes=n_brands)
    if name == "trimmed-mean":
        return FedTrimmedAvg(beta=0.2, min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                             min_available_nodes=n_brands)
    if name == "median":
        return FedMedian(min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                         min_available_nodes=n_brands)
    raise ValueError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")
