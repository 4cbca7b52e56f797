"""Coordinator strategies: Flower's Message-API strategies, configured for our brands."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx, FedTrimmedAvg

STRATEGIES = ("fedavg", "fedprox", "trimmed-mean", "median")


def make_strategy(name: str, n_brands: int, *, proximal_mu: float = 0.01) -> FedAvg:
    """Every brand trains and evaluates each round (cross-silo, few clients). FedProx sends
    `proximal-mu` in the train config; our clients add the proximal term."""
    if name == "fedavg":
        return FedAvg(min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                      min_available_nodes=n_brands)
    if name == "fedprox":
        return FedProx(min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                       min_available_nodes=n_brands, proximal_mu=proximal_mu)
    if name == "trimmed-mean":
        return FedTrimmedAvg(beta=0.2, min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                             min_available_nodes=n_brands)
    if name == "median":
        return FedMedian(min_train_nodes=n_brands, min_evaluate_nodes=n_brands,
                         min_available_nodes=n_brands)
    raise ValueError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")
