"""Training rounds as the coordinator runs them: every round not yet done, each a plain
Message-API round (screened strategy) or a SecAgg+ round, checkpointed when it completes and
retried from the last checkpoint when it produced nothing; or, for a recommender under DP, the
one release of its item statistics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid

from compliance.audit.service import AuditLog
from compliance.database import Database
from federation.coordinator.cooccurrence_round import release_and_choose
from federation.coordinator.lineage.service import LineageService
from federation.coordinator.retry import retried
from federation.coordinator.secagg import run_secagg
from federation.coordinator.statistics_round import release_and_evaluate
from federation.coordinator.strategy import make_strategy
from federation.errors import FederationError, RoundFailed
from federation.gate.report import GateReport
from federation.models.cooccurrence import cooccurrence_plan
from federation.models.item_statistics import plan_statistics
from federation.settings import RunSettings

log = logging.getLogger(__name__)
MAX_ROUND_ATTEMPTS = 3
ROUND_WAIT_S = 300.0  # how long a retried round waits for every brand's node to be back
ProgressFn = Callable[[str, int, int], None]
Weights = list[Any]
RoundResult = tuple[Weights, dict[str, float]]


def plain_round(grid: Grid, db: Database, settings: RunSettings, weights: Weights,
                strategy: str, server_round: int) -> RoundResult:
    """One round with a Message-API strategy (each round a fresh strategy, started from the
    last checkpoint); screening rejections are audited under the run's round number."""
    strat = make_strategy(strategy, len(settings.brands), model_kind=settings.model_kind)
    config = settings.to_record()
    config["round-offset"] = server_round - 1
    result = strat.start(grid=grid, initial_arrays=ArrayRecord(weights), num_rounds=1,
                         train_config=config, evaluate_config=config)
    rejected = getattr(strat, "rejections", [])
    if rejected:
        with db.unit_of_work() as session:
            AuditLog(session).record_many(
                [("update.rejected", {"run_id": settings.run_id, "round": server_round,
                                      "node_id": r.node_id, "reason": r.reason}, None, None)
                 for r in rejected], actor="coordinator")
    if not result.train_metrics_clientapp.get(1):
        raise RoundFailed(f"round {server_round}: no brand update was aggregated")
    evaluated: Mapping[str, Any] = result.evaluate_metrics_clientapp.get(1, {})
    return (result.arrays.to_numpy_ndarrays(),
            {k: float(cast(float, v)) for k, v in evaluated.items()})


def secure_round(grid: Grid, context: Context | None, settings: RunSettings, weights: Weights,
                 server_round: int) -> RoundResult:
    """One FedAvg round whose training sum goes through SecAgg+."""
    if context is None:
        raise FederationError("SecAgg+ needs the ServerApp context")
    summed = run_secagg(grid, context, initial=weights, n_brands=len(settings.brands),
                        server_round=server_round, config=dict(settings.to_record()))
    if summed is None:
        raise RoundFailed(f"round {server_round}: secure aggregation halted")
    return summed


def train_rounds(grid: Grid, db: Database, settings: RunSettings, *, weights: Weights,
                 done: dict[int, dict[str, float]], secure: bool, strategy: str,
                 context: Context | None, progress: ProgressFn | None,
                 wait_for_nodes: Callable[[int], object]
                 ) -> tuple[Weights, dict[int, dict[str, float]], int]:
    """Every round not yet done, each checkpointed when it completes; a failed round is
    retried from the last checkpoint once every brand is back (`wait_for_nodes(timeout)`).
    Returns the final weights, metrics by round, and the training attempts made (what DP
    accounting must count)."""
    rounds = dict(done)
    attempts_total = 0
    for rnd in range(max(done, default=0) + 1, settings.rounds + 1):
        start = weights

        def attempt(_n: int, rnd: int = rnd, start: Weights = start) -> RoundResult:
            if secure:
                return secure_round(grid, context, settings, start, rnd)
            return plain_round(grid, db, settings, start, strategy, rnd)

        def failed(n: int, reason: str, rnd: int = rnd) -> None:
            log.warning("%s (attempt %d of %d)", reason, n, MAX_ROUND_ATTEMPTS)
            with db.unit_of_work() as session:
                LineageService(session).round_failed(settings.run_id, rnd, n, reason)
            if n < MAX_ROUND_ATTEMPTS:
                wait_for_nodes(int(ROUND_WAIT_S))

        (weights, metrics), attempts = retried(attempt, tries=MAX_ROUND_ATTEMPTS,
                                               what=f"round {rnd}", on_failure=failed)
        attempts_total += attempts
        rounds[rnd] = metrics
        with db.unit_of_work() as session:
            LineageService(session).save_round(settings.run_id, rnd, weights, metrics, attempts)
        if progress:
            progress("round", rnd, settings.rounds)
    return weights, rounds, attempts_total


def release_statistics(grid: Grid, db: Database, settings: RunSettings,
                       reports: dict[str, GateReport], nodes: list[int], *, secure: bool,
                       context: Context | None, earlier_attempts: int,
                       progress: ProgressFn | None
                       ) -> tuple[Weights, dict[int, dict[str, float]], dict[str, Any]]:
    """A recommender under DP: its item side is released as two noisy sums over the brands
    (`federation.models.item_statistics`) instead of trained by DP-SGD, then evaluated once,
    and checkpointed as the run's one round. Attempts of an interrupted earlier start are
    counted by the accountant too."""
    plan = plan_statistics(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                           n_items=settings.items)
    try:
        weights, attempts, metrics = release_and_evaluate(
            grid, context, nodes, plan, dict(settings.to_record()),
            n_brands=len(settings.brands), secure=secure,
            max_customers=max(r.train_examples for r in reports.values()),
            n_items=settings.items, dim=settings.dim)
    except ValueError as exc:
        raise FederationError(str(exc)) from exc
    with db.unit_of_work() as session:
        LineageService(session).save_round(settings.run_id, 1, weights, metrics, attempts)
    if progress:
        progress("round", 1, 1)
    return weights, {1: metrics}, plan.report(attempts + earlier_attempts)


def release_family(grid: Grid, db: Database, settings: RunSettings,
                   reports: dict[str, GateReport], nodes: list[int], *, secure: bool,
                   context: Context | None, earlier_attempts: int,
                   progress: ProgressFn | None
                   ) -> tuple[Weights, dict[int, dict[str, float]], dict[str, Any] | None,
                              dict[str, Any]]:
    """A co-occurrence recommender (`federation.models.cooccurrence`): its item-item sums
    released over the brands, the family chosen by federated validation on the brands'
    held-out items, checkpointed as the run's one round. Returns the released statistics,
    the round's metrics (the chosen family's validation figures), the DP report (None
    without DP; attempts of an interrupted earlier start counted too) and the choice: which
    family serves, and the validation figures of every family behind it."""
    try:
        stats, attempts, choice = release_and_choose(
            grid, context, nodes, settings, dict(settings.to_record()), secure=secure,
            max_customers=max(r.train_examples for r in reports.values()))
    except ValueError as exc:
        raise FederationError(str(exc)) from exc
    weights = stats.to_arrays()
    chosen = choice["validation"][choice["family"]]
    metrics = {"hr10": float(chosen["hr10"]), "ndcg10": float(chosen["ndcg10"])}
    with db.unit_of_work() as session:
        LineageService(session).save_round(settings.run_id, 1, weights, metrics, attempts)
    if progress:
        progress("round", 1, 1)
    dp = None
    if settings.dp_epsilon > 0:
        dp = cooccurrence_plan(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                               n_items=settings.items).report(attempts + earlier_attempts)
    return weights, {1: metrics}, dp, {k: v for k, v in choice.items() if k != "dp"}
