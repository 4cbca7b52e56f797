"""What the ServerApp does, independent of how it was started (simulation or deployment).

1. Ask every brand for its gate report (counts, consent snapshot digest; no identifiers).
2. Recompute each brand's consent snapshot from the compliance records and the gate
   decisions per subject pseudonym; a digest or count mismatch fails the run.
3. Train with the strategy, evaluate federatedly, record lineage, model version and audit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch
from flwr.app import ArrayRecord, Context, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid

from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.consent.state import snapshot_digest
from compliance.database import Database
from compliance.errors import ComityError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import DecisionRequest, SubjectFacts
from compliance.subjects.models import Brand
from federation.dpsgd import DpPlan, plan_dp
from federation.features import CHURN_FEATURES
from federation.gate_report import GateReport
from federation.lineage.service import BrandLineage, LineageService, ResumePoint
from federation.recommend import build_recommender
from federation.secagg import MIN_BRANDS, run_secagg
from federation.settings import RunSettings
from federation.statistics_round import StatisticsFailed, release_and_evaluate
from federation.strategy import make_strategy
from federation.task import build_model, get_weights
from federation.transitions import plan_statistics
from federation.wire_audit import AuditingGrid, WireViolation

log = logging.getLogger(__name__)
MAX_ROUND_ATTEMPTS = 3
ROUND_WAIT_S = 300.0  # how long a retried round waits for every brand's node to be back
ProgressFn = Callable[[str, int, int], None]


class FederationError(ComityError):
    status_code = 502


@dataclass
class RunOutcome:
    run_id: str
    lineage: list[BrandLineage]
    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    model_version: int = 0
    seconds: float = 0.0


def wait_for_nodes(grid: Grid, n: int, timeout: float = 120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= n:
            return nodes
        if time.monotonic() > deadline:
            raise FederationError(f"only {len(nodes)} of {n} brand nodes connected in {timeout}s")
        time.sleep(0.2)


def collect_gate_reports(grid: Grid, settings: RunSettings, nodes: list[int]
                         ) -> dict[str, GateReport]:
    msgs = [Message(RecordDict({"config": settings.to_record()}), dst_node_id=n,
                    message_type=MessageType.QUERY) for n in nodes]
    reports: dict[str, GateReport] = {}
    for reply in grid.send_and_receive(msgs, timeout=600):
        if reply.has_error():
            raise FederationError(f"brand node {reply.metadata.src_node_id} failed the gate: "
                                  f"{reply.error.reason}")
        report = GateReport.from_records(reply.content)
        reports[report.brand_id] = report
        if isinstance(grid, AuditingGrid):
            grid.declare(reply.metadata.src_node_id,
                         report.records_used + report.excluded_no_consent
                         + report.excluded_minor, report.records_used,
                         report.train_examples, report.test_examples)
    missing = sorted(set(settings.brands) - set(reports))
    if missing:
        raise FederationError(f"no gate report from brands: {', '.join(missing)}")
    return reports


def _check_resumed_gate(db: Database, settings: RunSettings, reports: dict[str, GateReport],
                        resumed: ResumePoint) -> list[BrandLineage]:
    """A resumed run must train on exactly the rows it was gated on: each brand's consent
    snapshot digest must match the one recorded when the run started."""
    for brand in settings.brands:
        if reports[brand].consent_snapshot_sha256 != resumed.snapshots.get(brand):
            raise FederationError(f"brand '{brand}' no longer gates on the consent snapshot "
                                  "this run started with; start a new run")
    with db.reading() as session:
        return LineageService(session).lineage(settings.run_id)


def verify_and_audit_gate(db: Database, settings: RunSettings, engine: PolicyEngine,
                          reports: dict[str, GateReport]) -> list[BrandLineage]:
    """Recompute every brand's snapshot and decisions here; audit one event per subject."""
    lineage: list[BrandLineage] = []
    with db.unit_of_work() as session:
        audit = AuditLog(session)
        consent = ConsentService(session)
        for brand_id in settings.brands:
            rep = reports[brand_id]
            brand = session.get(Brand, brand_id)
            if brand is None:
                raise FederationError(f"brand '{brand_id}' is not registered")
            snapshot = consent.snapshot(brand_id, settings.purpose, settings.as_of)
            digest = snapshot_digest(snapshot)
            if digest != rep.consent_snapshot_sha256:
                raise FederationError(f"brand '{brand_id}' gated on a different consent "
                                      "snapshot than the compliance records")
            categories = frozenset(rep.categories)
            items: list[tuple[str, dict[str, Any], str | None, str | None]] = []
            allowed = 0
            for key, s in sorted(snapshot.items()):
                d = engine.decide(DecisionRequest(
                    brand_id=brand_id, purpose=settings.purpose, jurisdiction=brand.jurisdiction,
                    consent=s.state, data_categories=categories,
                    subject=SubjectFacts(s.is_minor, s.guardian_consent)))
                allowed += d.allowed
                items.append(("gate.decision", {"run_id": settings.run_id, "subject": key,
                                                "purpose": settings.purpose,
                                                "allowed": d.allowed}, brand_id, d.rule_id))
            audit.record_many(items, actor=f"brand:{brand_id}")
            if rep.records_used > allowed:
                raise FederationError(f"brand '{brand_id}' reports {rep.records_used} records "
                                      f"used but only {allowed} subjects are allowed")
            audit.record("gate.summary", actor=f"brand:{brand_id}", brand_id=brand_id, data={
                "run_id": settings.run_id, "records_used": rep.records_used,
                "excluded_no_consent": rep.excluded_no_consent,
                "excluded_minor": rep.excluded_minor, "excluded_by_rule": rep.excluded_by_rule,
                "excluded_digest": rep.excluded_digest, "consent_snapshot_sha256": digest,
                "categories": sorted(categories),
                "dropped_columns": rep.dropped_columns})
            lineage.append(BrandLineage(brand_id, rep.records_used, rep.excluded_no_consent,
                                        rep.excluded_minor, digest, rep.dropped_columns))
    return lineage


class RoundFailed(FederationError):
    """A round that produced no aggregate (SecAgg+ halted, every update lost): retried."""


def _plain_round(grid: Grid, db: Database, settings: RunSettings, weights: list[Any],
                 strategy: str, server_round: int) -> tuple[list[Any], dict[str, float]]:
    """One round with a Message-API strategy (each round a fresh strategy, started from the
    last checkpoint); screening rejections are audited under the run's round number."""
    strat = make_strategy(strategy, len(settings.brands))
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


def _train_rounds(grid: Grid, db: Database, settings: RunSettings, *, weights: list[Any],
                  done: dict[int, dict[str, float]], secure: bool, strategy: str,
                  context: Context | None, progress: ProgressFn | None
                  ) -> tuple[list[Any], dict[int, dict[str, float]], int]:
    """Every round not yet done, each checkpointed when it completes; a failed round is
    retried from the last checkpoint once every brand is back. Returns the final weights,
    metrics by round, and the training attempts made (what DP accounting must count)."""
    rounds = dict(done)
    attempts_total = 0
    new: list[Any] = weights
    metrics: dict[str, float] = {}
    for rnd in range(max(done, default=0) + 1, settings.rounds + 1):
        for attempt in range(1, MAX_ROUND_ATTEMPTS + 1):
            attempts_total += 1
            try:
                if secure:
                    if context is None:
                        raise FederationError("SecAgg+ needs the ServerApp context")
                    summed = run_secagg(grid, context, initial=weights,
                                        n_brands=len(settings.brands), server_round=rnd,
                                        config=dict(settings.to_record()))
                    if summed is None:
                        raise RoundFailed(f"round {rnd}: secure aggregation halted")
                    new, metrics = summed
                else:
                    new, metrics = _plain_round(grid, db, settings, weights, strategy, rnd)
                break
            except RoundFailed as exc:
                log.warning("%s (attempt %d of %d)", exc, attempt, MAX_ROUND_ATTEMPTS)
                with db.unit_of_work() as session:
                    LineageService(session).round_failed(settings.run_id, rnd, attempt,
                                                         str(exc))
                if attempt == MAX_ROUND_ATTEMPTS:
                    raise
                wait_for_nodes(grid, len(settings.brands), timeout=ROUND_WAIT_S)
        weights, rounds[rnd] = new, metrics
        with db.unit_of_work() as session:
            LineageService(session).save_round(settings.run_id, rnd, weights, metrics, attempt)
        if progress:
            progress("round", rnd, settings.rounds)
    return weights, rounds, attempts_total


def plan_private_training(settings: RunSettings, reports: dict[str, GateReport]
                          ) -> tuple[RunSettings, DpPlan | None]:
    """Calibrate DP-SGD once, from the smallest brand: every brand samples at that brand's
    rate for the same steps, so each brand's accountant reaches the run's epsilon (brands
    hold disjoint customers: parallel composition). Returns the settings the brands train
    with, and the plan (its accountant also counts retried rounds)."""
    if settings.dp_epsilon <= 0:
        return settings, None
    smallest = min(r.train_examples for r in reports.values())
    try:
        plan = plan_dp(n_examples=smallest, batch_size=max(1, min(settings.dp_batch_size,
                                                                    smallest // 4)),
                       local_epochs=settings.local_epochs, rounds=settings.rounds,
                       target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                       clip=settings.dp_clip)
    except ValueError as exc:
        raise FederationError(f"DP-SGD cannot be planned: {exc}") from exc
    return replace(settings, dp_noise_multiplier=plan.noise_multiplier,
                   dp_sample_rate=plan.sample_rate,
                   dp_steps_per_round=plan.steps_per_round), plan


def release_statistics(grid: Grid, db: Database, settings: RunSettings,
                       reports: dict[str, GateReport], nodes: list[int], *, secure: bool,
                       context: Context | None, earlier_attempts: int,
                       progress: ProgressFn | None
                       ) -> tuple[list[Any], dict[int, dict[str, float]], dict[str, Any]]:
    """A recommender under DP: its item side is released as two noisy sums over the brands
    (`federation.transitions`) instead of trained by DP-SGD, then evaluated once. Attempts
    of an interrupted earlier start are counted by the accountant too."""
    plan = plan_statistics(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                           n_items=settings.items)
    try:
        weights, attempts, metrics = release_and_evaluate(
            grid, context, nodes, plan, dict(settings.to_record()),
            n_brands=len(settings.brands), secure=secure,
            max_customers=max(r.train_examples for r in reports.values()),
            n_items=settings.items, dim=settings.dim)
    except (StatisticsFailed, ValueError) as exc:
        raise FederationError(str(exc)) from exc
    with db.unit_of_work() as session:
        LineageService(session).save_round(settings.run_id, 1, weights, metrics, attempts)
    if progress:
        progress("round", 1, 1)
    return weights, {1: metrics}, plan.report(attempts + earlier_attempts)


def initial_weights(settings: RunSettings) -> list[Any]:
    """Round one's global model: the churn network, or the shared item side of the
    recommender (user vectors are the brands' own and never part of it)."""
    torch.manual_seed(settings.seed)
    if settings.model == "recommend":
        return build_recommender(1, settings.items, settings.dim).item_weights()
    return get_weights(build_model(len(CHURN_FEATURES), settings.model_kind))


def run_federated(grid: Grid, settings: RunSettings, db: Database, *, strategy: str = "fedavg",
                  progress: ProgressFn | None = None,
                  context: Context | None = None) -> RunOutcome:
    """Secure aggregation (SecAgg+) is on by default whenever there are enough brands;
    robust strategies (trimmed mean, median) need the individual updates, so choosing one
    turns it off."""
    t0 = time.perf_counter()
    if not settings.fits_users:  # released in one round of item statistics, not trained
        settings = replace(settings, rounds=1)
    engine = PolicyEngine(load_policies())
    grid = AuditingGrid(grid)
    nodes = wait_for_nodes(grid, len(settings.brands))
    with db.unit_of_work() as session:
        lineage_svc = LineageService(session)
        resumed = lineage_svc.resume_run(settings)
        if resumed is None:
            lineage_svc.start_run(settings, strategy)
    try:
        reports = collect_gate_reports(grid, settings, nodes)
        if resumed is None:
            lineage = verify_and_audit_gate(db, settings, engine, reports)
            with db.unit_of_work() as session:
                LineageService(session).record_brands(settings.run_id, lineage)
        else:
            lineage = _check_resumed_gate(db, settings, reports, resumed)
        secure = (settings.secure_aggregation and strategy == "fedavg"
                  and len(settings.brands) >= MIN_BRANDS)
        if settings.secure_aggregation and not secure:
            log.warning("secure aggregation off: strategy %s over %d brands", strategy,
                        len(settings.brands))
        dp: dict[str, Any] | None = None
        if not settings.fits_users:
            weights, rounds, dp = release_statistics(
                grid, db, settings, reports, nodes, secure=secure, context=context,
                earlier_attempts=resumed.attempts + 1 if resumed else 0, progress=progress)
            dp_plan = None
        else:
            settings, dp_plan = plan_private_training(settings, reports)
            start = (resumed.weights if resumed and resumed.weights is not None
                     else initial_weights(settings))
            weights, rounds, attempts = _train_rounds(
                grid, db, settings, weights=start, done=resumed.rounds if resumed else {},
                secure=secure, strategy=strategy, context=context, progress=progress)
        if dp_plan is not None:
            # A resumed run also counts its earlier attempts and, conservatively, the round
            # the crash interrupted: brands may have trained on it.
            trained = attempts + (resumed.attempts + 1 if resumed else 0)
            steps = dp_plan.steps_per_round * trained
            dp = {**dp_plan.report(), "epsilon": round(dp_plan.epsilon(steps), 4),
                  "steps": steps, "round_attempts": trained}
        final = rounds[max(rounds)] if rounds else {}
        with db.unit_of_work() as session:
            AuditLog(session).record("wire.audit", actor="coordinator",
                                     data={"run_id": settings.run_id, **grid.summary()})
            mv = LineageService(session).complete(
                settings.run_id, {"rounds": {str(k): v for k, v in rounds.items()},
                                  "final": final, "secure_aggregation": secure, "dp": dp},
                weights)
        return RunOutcome(settings.run_id, lineage, rounds, final, mv.version,
                          time.perf_counter() - t0)
    except BaseException as exc:
        with db.unit_of_work() as session:
            if isinstance(exc, WireViolation):
                AuditLog(session).record("wire.audit", actor="coordinator", data={
                    "run_id": settings.run_id, **grid.summary(), "stopped": str(exc)})
            LineageService(session).fail(settings.run_id, f"{type(exc).__name__}: {exc}")
        raise
