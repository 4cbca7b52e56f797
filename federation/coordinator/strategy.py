"""Coordinator strategies: Flower's Message-API strategies, configured for our brands."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx, FedTrimmedAvg

from federation.coordinator.screening import screened

STRATEGIES = ("fedavg", "fedprox", "trimmed-mean", "median")


def make_strategy(name: str, n_brands: int, *, proximal_mu: float = 0.01) -> FedAvg:
    """Every brand trains and evaluates each round (cross-silo, few clients). FedProx sends
    `proximal-mu` in the train config; our clients add the proximal term. Every strategy
    screens updates first (`federation.coordinator.screening`): NaN, Inf, wrong shapes and
    absurd norms are rejected, never averaged."""
    nodes = {"min_train_nodes": n_brands, "min_evaluate_nodes": n_brands,
             "min_available_nodes": n_brands}
    if name == "fedavg":
        return screened(FedAvg, **nodes)
    if name == "fedprox":
        return screened(FedProx, proximal_mu=proximal_mu, **nodes)
    if name == "trimmed-mean":
        return screened(FedTrimmedAvg, beta=0.2, **nodes)
    if name == "median":
        return screened(FedMedian, **nodes)
    raise ValueError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")
