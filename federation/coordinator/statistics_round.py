"""The recommender's DP item side (`federation.models.item_statistics`) as federated rounds,
the coordinator's part: two sums over the brands, through SecAgg+ when there are enough
brands, then one evaluation round.

A brand answers a statistics round with its own noisy sum
(`federation.brand.local.answer_item_statistics`); the coordinator never sees a brand's sum
without noise, and under SecAgg+ not even that, only the total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid
from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

from federation.coordinator.retry import retried
from federation.coordinator.secagg import secure_vector_sum
from federation.errors import FederationError, StatisticsFailed
from federation.models.item_statistics import StatisticsPlan, item_side, noise_share, top_items
from federation.settings import STAGE_KEY, STD_KEY, TOP_KEY

QUANTIZATION_RANGE = 2**24  # per value; at a clipping range of 2^10 a step is about 1e-4
MODULUS_RANGE = 2**32
MAX_ATTEMPTS = 3

# (config for the brands, values per brand, largest |value|) -> the sum, or None if halted
SumFn = Callable[[dict[str, Any], int, float], "np.ndarray | None"]


def value_bound(max_customers: int, std: float) -> float:
    """SecAgg+ clips each value to this range: a cell of a brand's sum is at most its
    customer count, and the noise stays within 8 std but with negligible probability."""
    return float(2 ** math.ceil(math.log2(max_customers + 8 * std + 1)))


def release_sum(sum_fn: SumFn, name: str, sigma: float, size: int, *, n_brands: int,
                secure: bool, max_customers: int, extra: Mapping[str, Any] | None = None
                ) -> tuple[np.ndarray, int]:
    """One sum over the brands (stage `name`, each brand adding its share of noise
    `sigma`; 0 in a run without DP), retried when it halts; the sum and its attempts."""
    std = noise_share(sigma, n_brands, secure=secure)
    config = {STAGE_KEY: name, STD_KEY: std, **(extra or {})}
    return retried(lambda _n: sum_fn(config, size, value_bound(max_customers, std)),
                   tries=MAX_ATTEMPTS, what=f"the {name} sum", failure=StatisticsFailed)


def sum_function(grid: Grid, context: Context | None, nodes: list[int],
                 config: Mapping[str, Any], *, n_brands: int, secure: bool) -> SumFn:
    """How a statistics round sums: through SecAgg+ when `secure` (it needs the ServerApp
    `context`), else the brands' answers added here."""
    if secure and context is None:
        raise ValueError("SecAgg+ needs the ServerApp context")
    return (_secure_sum_fn(grid, context, n_brands, config) if secure and context
            else _plain_sum_fn(grid, nodes, config))


def release_item_side(sum_fn: SumFn, plan: StatisticsPlan, *, n_brands: int, secure: bool,
                      max_customers: int, n_items: int, dim: int
                      ) -> tuple[list[np.ndarray], int]:
    """Both releases, each retried when it halts; returns the item side and the attempts
    the accountant must count (every attempt may have released a noisy sum)."""
    attempts = {"popularity": 0, "transitions": 0}

    def stage(name: str, sigma: float, size: int, extra: dict[str, Any]) -> np.ndarray:
        out, attempts[name] = release_sum(sum_fn, name, sigma, size, n_brands=n_brands,
                                          secure=secure, max_customers=max_customers,
                                          extra=extra)
        return out

    pop = stage("popularity", plan.pop_sigma, n_items, {})
    top = top_items(pop, plan.top)
    pairs = stage("transitions", plan.pair_sigma, plan.top ** 2,
                  {TOP_KEY: ",".join(map(str, top.tolist()))})
    return item_side(pop, pairs, top, dim), max(attempts.values())


def release_and_evaluate(grid: Grid, context: Context | None, nodes: list[int],
                         plan: StatisticsPlan, config: Mapping[str, Any], *, n_brands: int,
                         secure: bool, max_customers: int, n_items: int, dim: int
                         ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
    """The whole DP release as the coordinator and the bench run it: both sums (through
    SecAgg+ when `secure`), then one federated evaluation. `config` is the run's config the
    brands also need; SecAgg+ needs the ServerApp `context`. Returns the item side, the
    attempts to account, and the metrics."""
    sum_fn = sum_function(grid, context, nodes, config, n_brands=n_brands, secure=secure)
    weights, attempts = release_item_side(sum_fn, plan, n_brands=n_brands, secure=secure,
                                          max_customers=max_customers, n_items=n_items,
                                          dim=dim)
    return weights, attempts, evaluate_round(grid, nodes, weights, config)


def _secure_sum_fn(grid: Grid, context: Context, n_brands: int,
                   base: Mapping[str, Any]) -> SumFn:
    def run(config: dict[str, Any], size: int, bound: float) -> np.ndarray | None:
        out = secure_vector_sum(grid, context, n_brands=n_brands, size=size,
                                config={**base, **config}, clipping_range=bound,
                                quantization_range=QUANTIZATION_RANGE,
                                modulus_range=MODULUS_RANGE, every_brand=True)
        return None if out is None else out[0]
    return run


def _plain_sum_fn(grid: Grid, nodes: list[int], base: Mapping[str, Any],
                  timeout: float = 600.0) -> SumFn:
    """Sums the brands' answers here (every brand's answer carries the full noise); a round
    missing any brand is halted."""
    def run(config: dict[str, Any], size: int, bound: float) -> np.ndarray | None:
        record = ConfigRecord({**base, **config})
        msgs = [Message(RecordDict({"config": record, "arrays": ArrayRecord([np.zeros(0)])}),
                        dst_node_id=n, message_type=MessageType.TRAIN) for n in nodes]
        replies = [r for r in grid.send_and_receive(msgs, timeout=timeout)
                   if not r.has_error()]
        if len(replies) < len(nodes):
            return None
        vectors = [r.content.array_records["arrays"].to_numpy_ndarrays()[0] for r in replies]
        if any(v.shape != (size,) for v in vectors):
            raise FederationError(f"a brand answered {size} statistics with another shape")
        return np.sum(vectors, axis=0)
    return run


def evaluate_round(grid: Grid, nodes: list[int], weights: list[np.ndarray],
                   config: Mapping[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    """One federated evaluation of `weights`: metrics averaged by the brands' examples, as
    Flower's strategies average them."""
    record = ConfigRecord(dict(config))
    msgs = [Message(RecordDict({"config": record, "arrays": ArrayRecord(weights)}),
                    dst_node_id=n, message_type=MessageType.EVALUATE) for n in nodes]
    replies = [r.content for r in grid.send_and_receive(msgs, timeout=timeout)
               if not r.has_error()]
    if not replies:
        return {}
    return dict(aggregate_metricrecords(replies, "num-examples"))
