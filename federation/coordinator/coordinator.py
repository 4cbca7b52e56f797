"""What the ServerApp does, independent of how it was started (simulation or deployment).

1. Open the run (or resume an unfinished one with the same id).
2. Ask every brand for its gate report (counts, consent snapshot digest; no identifiers);
   recompute each brand's snapshot and decisions from the compliance records and fail the
   run on a mismatch (`gate_check`).
3. Train round by round, or release a DP recommender's item statistics (`rounds`).
4. Record lineage, the model version and the audit of what crossed the wire; a run that
   fails is recorded as failed with its reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.governance.service import GovernanceService, check_run_or_raise
from compliance.policy.engine import PolicyEngine
from compliance.policy.governance import Governance, load_governance
from compliance.policy.loader import load_policies
from compliance.policy.schemas import PolicySet
from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.gate_check import (
    check_resumed_gate,
    collect_gate_reports,
    verify_and_audit_gate,
)
from federation.coordinator.joining import measure_lift
from federation.coordinator.lineage.models import ModelVersion
from federation.coordinator.lineage.service import BrandLineage, LineageService, ResumePoint
from federation.coordinator.planning import initial_weights, plan_private_training
from federation.coordinator.rounds import (
    ProgressFn,
    release_family,
    release_statistics,
    train_rounds,
)
from federation.errors import FederationError, WireViolation
from federation.gate.report import GateReport
from federation.models.churn_trees import TREES_KIND
from federation.settings import SECAGG_MIN_BRANDS, RunSettings

log = logging.getLogger(__name__)
__all__ = ["ProgressFn", "RunOutcome", "run_federated", "wait_for_nodes"]


@dataclass
class RunOutcome:
    run_id: str
    lineage: list[BrandLineage]
    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    model_version: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Trained:
    weights: list[Any]
    rounds: dict[int, dict[str, float]]
    dp: dict[str, Any] | None
    family: dict[str, Any] | None = None  # a co-occurrence recommender's validated choice


def wait_for_nodes(grid: Grid, n: int, timeout: float = 120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= n:
            return nodes
        if time.monotonic() > deadline:
            raise FederationError(f"only {len(nodes)} of {n} brand nodes connected in {timeout}s")
        time.sleep(0.2)


def uses_secagg(settings: RunSettings, strategy: str) -> bool:
    """SecAgg+ is on by default whenever there are enough brands; robust strategies (trimmed
    mean, median) need the individual updates, so choosing one turns it off, and so do
    bagged trees (`federation.models.churn_trees`): trees are appended, not summed."""
    secure = (settings.secure_aggregation and strategy == "fedavg"
              and len(settings.brands) >= SECAGG_MIN_BRANDS
              and settings.model_kind != TREES_KIND)
    if settings.secure_aggregation and not secure:
        log.warning("secure aggregation off: strategy %s, model %s over %d brands", strategy,
                    settings.model_kind, len(settings.brands))
    return secure


def open_run(db: Database, settings: RunSettings, strategy: str) -> ResumePoint | None:
    """Start the run, or resume the unfinished run with this id (None: a new run)."""
    with db.unit_of_work() as session:
        lineage = LineageService(session)
        resumed = lineage.resume_run(settings)
        if resumed is None:
            lineage.start_run(settings, strategy)
    return resumed


def gate(grid: Grid, db: Database, settings: RunSettings, nodes: list[int],
         resumed: ResumePoint | None, brand_of: dict[int, str] | None = None, *,
         policies: PolicySet, governance: Governance
         ) -> tuple[dict[str, GateReport], list[BrandLineage]]:
    """The brands' gate reports, verified here (a new run) or against the snapshots the
    run started with (a resumed one); `brand_of` is filled with each node's brand. The
    policies and governance files are the ones the run was checked against at its start
    (loaded once per run, not once per brand: issue 24's fixed cost)."""
    reports = collect_gate_reports(grid, settings, nodes, brand_of)
    if resumed is not None:
        return reports, check_resumed_gate(db, settings, reports, resumed)
    for brand, rep in sorted(reports.items()):  # what each brand contributes (PIPL Art. 20)
        check_run_or_raise(db, policies, governance, kind="training",
                           run_id=settings.run_id, brands=[brand], purpose=settings.purpose,
                           categories=rep.categories)
    lineage = verify_and_audit_gate(db, settings, PolicyEngine(policies), reports)
    with db.unit_of_work() as session:
        LineageService(session).record_brands(settings.run_id, lineage)
    return reports, lineage


def train(grid: Grid, db: Database, settings: RunSettings, reports: dict[str, GateReport],
          nodes: list[int], *, secure: bool, strategy: str, context: Context | None,
          resumed: ResumePoint | None, progress: ProgressFn | None) -> Trained:
    """The rounds, with DP accounting over every attempt. A resumed run also counts its
    earlier attempts and, conservatively, the round the crash interrupted: brands may have
    trained on it."""
    earlier = resumed.attempts + 1 if resumed else 0
    if settings.cooccurrence:
        weights, rounds, dp, family = release_family(
            grid, db, settings, reports, nodes, secure=secure, context=context,
            earlier_attempts=earlier, progress=progress)
        return Trained(weights, rounds, dp, family)
    if settings.item_statistics:
        weights, rounds, dp = release_statistics(
            grid, db, settings, reports, nodes, secure=secure, context=context,
            earlier_attempts=earlier, progress=progress)
        return Trained(weights, rounds, dp)
    settings, plan = plan_private_training(
        settings, min(r.train_examples for r in reports.values()))
    start = (resumed.weights if resumed and resumed.weights is not None
             else initial_weights(settings))
    weights, rounds, attempts = train_rounds(
        grid, db, settings, weights=start, done=resumed.rounds if resumed else {},
        secure=secure, strategy=strategy, context=context, progress=progress,
        wait_for_nodes=lambda timeout: wait_for_nodes(grid, len(settings.brands), timeout))
    if plan is None:
        return Trained(weights, rounds, None)
    trained = attempts + earlier
    steps = plan.steps_per_round * trained
    return Trained(weights, rounds, {**plan.report(), "epsilon": round(plan.epsilon(steps), 4),
                                     "steps": steps, "round_attempts": trained})


def complete(db: Database, settings: RunSettings, grid: AuditingGrid, trained: Trained,
             secure: bool, per_brand_lift: dict[str, Any] | None = None) -> ModelVersion:
    """The model version and the wire audit, in one transaction; `per_brand_lift`: the value
    of joining per brand (`federation.coordinator.joining`)."""
    final = trained.rounds[max(trained.rounds)] if trained.rounds else {}
    with db.unit_of_work() as session:
        AuditLog(session).record("wire.audit", actor="coordinator",
                                 data={"run_id": settings.run_id, **grid.summary()})
        return LineageService(session).complete(
            settings.run_id, {"rounds": {str(k): v for k, v in trained.rounds.items()},
                              "final": final, "secure_aggregation": secure, "dp": trained.dp,
                              **({"family": trained.family} if trained.family else {}),
                              **({"per_brand_lift": per_brand_lift} if per_brand_lift else {})},
            trained.weights)


def fail(db: Database, settings: RunSettings, grid: AuditingGrid, exc: Exception) -> None:
    """The run is recorded as failed; a wire-audit violation also opens an incident in the
    same transaction (PIPL Art. 57; GDPR Art. 33)."""
    with db.unit_of_work() as session:
        if isinstance(exc, WireViolation):
            AuditLog(session).record("wire.audit", actor="coordinator", data={
                "run_id": settings.run_id, **grid.summary(), "stopped": str(exc)})
            policies = load_policies()
            GovernanceService(session, policies, load_governance(policies)) \
                .incident_for_wire_violation(run_id=settings.run_id, violation=str(exc),
                                             actor="coordinator")
        LineageService(session).fail(settings.run_id, f"{type(exc).__name__}: {exc}")


def run_federated(grid: Grid, settings: RunSettings, db: Database, *, strategy: str = "fedavg",
                  progress: ProgressFn | None = None,
                  context: Context | None = None) -> RunOutcome:
    t0 = time.perf_counter()
    if settings.item_statistics or settings.cooccurrence:  # one release, not trained
        settings = replace(settings, rounds=1)
    audited = AuditingGrid(grid)
    nodes = wait_for_nodes(audited, len(settings.brands))
    policies = load_policies()  # the alliance agreement and assessments, before any brand
    governance = load_governance(policies)
    check_run_or_raise(db, policies, governance, kind="training",
                       run_id=settings.run_id, brands=settings.brands,
                       purpose=settings.purpose)
    resumed = open_run(db, settings, strategy)
    try:
        brand_of: dict[int, str] = {}
        reports, lineage = gate(audited, db, settings, nodes, resumed, brand_of,
                                policies=policies, governance=governance)
        secure = uses_secagg(settings, strategy)
        trained = train(audited, db, settings, reports, nodes, secure=secure,
                        strategy=strategy, context=context, resumed=resumed, progress=progress)
        lift = measure_lift(audited, settings, trained.weights, brand_of)
        mv = complete(db, settings, audited, trained, secure, lift)
    except Exception as exc:
        fail(db, settings, audited, exc)
        raise
    final = trained.rounds[max(trained.rounds)] if trained.rounds else {}
    return RunOutcome(settings.run_id, lineage, trained.rounds, final, mv.version,
                      time.perf_counter() - t0)
