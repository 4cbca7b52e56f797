"""Secure aggregation with Flower's SecAgg+ (Bell et al., 2020), the coordinator's side: it
learns only the weighted sum of the brands' updates, never one brand's weights.

Flower (1.41-1.42) offers SecAgg+ only as a workflow of its legacy strategy API
(`SecAggPlusWorkflow` needs a `LegacyContext`) with `secaggplus_mod` on the client, and
that mod speaks the legacy FitIns/FitRes record format. So the SecAgg+ rounds run through
the legacy `DefaultWorkflow`; the brand's side (`federation.brand.secagg`) answers both formats
with the same training code, and everything before and after (gate checks, lineage, audit) is
shared.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from flwr.app import Context
from flwr.common import FitRes, ndarrays_to_parameters
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD
from flwr.serverapp import Grid

from federation.settings import SECAGG_MIN_BRANDS


def _weighted(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    total = sum(n for n, _ in results) or 1
    keys = {k for _, m in results for k in m}
    return {k: sum(n * float(m.get(k, 0.0)) for n, m in results) / total for k in keys}


class _CountingFedAvg(LegacyFedAvg):
    """FedAvg that remembers how many brands the secure mean was taken over."""

    reporting = 0

    def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                      failures: list[Any]) -> Any:
        self.reporting = len(results)
        return super().aggregate_fit(server_round, results, failures)


def secure_vector_sum(grid: Grid, context: Context, *, n_brands: int, size: int,
                      config: dict[str, Any], clipping_range: float,
                      quantization_range: int, modulus_range: int, every_brand: bool = False
                      ) -> tuple[np.ndarray, int] | None:
    """One SecAgg+ round in which every brand answers `config` with one vector of `size`
    values in [-clipping_range, clipping_range] at weight 1: returns their sum and how many
    brands it covers, or None when the round halted. Any one brand may drop out, unless
    `every_brand`: then the sum is unmasked only with every brand's vector in it."""
    if n_brands < SECAGG_MIN_BRANDS:
        raise ValueError(f"SecAgg+ needs at least {SECAGG_MIN_BRANDS} brands, got {n_brands}")
    strategy = _CountingFedAvg(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n_brands,
        min_evaluate_clients=0, min_available_clients=n_brands,
        initial_parameters=ndarrays_to_parameters([np.zeros(size)]),
        on_fit_config_fn=lambda _r: config)
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=1),
                           strategy=strategy)
    workflow = DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
        num_shares=n_brands, reconstruction_threshold=1.0 if every_brand else n_brands - 1,
        max_weight=1.0, clipping_range=clipping_range, quantization_range=quantization_range,
        modulus_range=modulus_range))
    workflow(grid, legacy)
    if strategy.reporting == 0:
        return None
    mean = legacy.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()[0]
    return np.asarray(mean, dtype=np.float64) * strategy.reporting, strategy.reporting


def run_secagg(grid: Grid, context: Context, *, initial: list[np.ndarray], n_brands: int,
               server_round: int, config: dict[str, Any]
               ) -> tuple[list[np.ndarray], dict[str, float]] | None:
    """One FedAvg round whose training sum goes through SecAgg+, then plain federated
    evaluation (metrics only). Returns the new weights and the round's evaluate metrics, or
    None when secure aggregation halted (too few brands answered to unmask the sum)."""
    if n_brands < SECAGG_MIN_BRANDS:
        raise ValueError(f"SecAgg+ needs at least {SECAGG_MIN_BRANDS} brands, got {n_brands}")

    def round_config(_rnd: int) -> dict[str, Any]:
        return {**config, "server-round": server_round}

    strategy = LegacyFedAvg(
        fraction_fit=1.0, fraction_evaluate=1.0, min_fit_clients=n_brands,
        min_evaluate_clients=n_brands - 1, min_available_clients=n_brands - 1,
        initial_parameters=ndarrays_to_parameters(initial), on_fit_config_fn=round_config,
        on_evaluate_config_fn=round_config, fit_metrics_aggregation_fn=_weighted,
        evaluate_metrics_aggregation_fn=_weighted)
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=1),
                           strategy=strategy)
    # Training waits for every brand (min_fit_clients); evaluation goes ahead without one
    # that dropped out, so a lost node fails only the round it was in.
    # Every brand holds a share of every other's mask: any one brand may drop out and the
    # sum is still recovered, while no brand's update is ever revealed alone.
    workflow = DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
        num_shares=n_brands, reconstruction_threshold=n_brands - 1))
    workflow(grid, legacy)
    if not legacy.history.metrics_distributed_fit:
        return None
    weights = legacy.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()
    metrics = {name: float(cast(float, series[-1][1]))
               for name, series in legacy.history.metrics_distributed.items() if series}
    if legacy.history.losses_distributed:
        metrics["eval-loss"] = float(legacy.history.losses_distributed[-1][1])
    return weights, metrics
