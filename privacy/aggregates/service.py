"""Answer an aggregate query: policy, budget, release, spend and audit, in that order.

The noisy result is computed before the spend and shown only after the spend commits. A result
that is never shown leaks nothing, so a request refused at the last moment (another request
took the budget first) costs nothing, and the write transaction stays short.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sqlalchemy import insert

from compliance.audit import anchors
from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.errors import ComityError, InputError
from compliance.governance.errors import RunRefused
from compliance.governance.service import GovernanceService
from compliance.policy.engine import PolicyEngine
from compliance.policy.governance import load_governance
from compliance.policy.schemas import ConsentState, DecisionRequest, PolicySet
from privacy.aggregates.errors import BudgetExhausted, PolicyDenied
from privacy.aggregates.federated import FederatedPlan, federated_plan, release_sum
from privacy.aggregates.ledger import (
    MICRO,
    Ledger,
    Spend,
    budget_views,
    period_key,
    to_micro,
)
from privacy.aggregates.models import DpRelease
from privacy.aggregates.plan import Calibrated, CalibrationCache, validate
from privacy.aggregates.registry import Registry, SourceCheck
from privacy.aggregates.release import execute, finish, scan
from privacy.aggregates.schemas import (
    AggregateAnswer,
    AggregateQuery,
    BudgetView,
    DatasetSpec,
)

if TYPE_CHECKING:  # privacy.overlap builds on this package: injected, never imported
    from privacy.overlap.dedup import DedupCounts
    from privacy.overlap.service import OverlapService

SecureSum = Callable[[FederatedPlan], tuple[np.ndarray, int]]
# plan, linkage run id, consent as-of (ISO) -> the secure sum over each brand's kept, linked
# customers, and what the linkage counted (`privacy.overlap.dedup.DedupCounts`)
DedupSum = Callable[[FederatedPlan, str, str], tuple[np.ndarray, "DedupCounts"]]
DEDUP_WHY = ("de-duplicated: each linked person is counted at one brand only (a PSI ring "
             "over the join key, privacy.overlap.dedup)")


def query_digest(query: AggregateQuery) -> str:
    return hashlib.sha256(json.dumps(query.model_dump(), sort_keys=True).encode()).hexdigest()


def _requester(requester: str) -> str:
    kind, _, name = requester.partition(":")
    if kind != "service" or not name:
        raise InputError(f"requester must be service:<name>, not '{requester}'",
                         column="requester")
    return requester


class AggregateService:
    def __init__(self, db: Database, policies: PolicySet, *,
                 cache: CalibrationCache | None = None,
                 checks: SourceCheck | None = None,
                 secure_sum: SecureSum | None = None, dedup_sum: DedupSum | None = None,
                 linkage: OverlapService | None = None) -> None:
        """`dedup_sum` and `linkage` (the overlap service: its consent and agreement checks,
        lineage and audit) answer de-duplicated queries; without them those are refused."""
        self.db = db
        self.policies = policies
        self.policy = policies.aggregates
        self.engine = PolicyEngine(policies)
        self.governance = load_governance(policies)
        self.cache = cache or CalibrationCache()
        self.checks = checks or SourceCheck()
        self.secure_sum = secure_sum
        self.dedup_sum = dedup_sum
        self.linkage = linkage

    def register(self, name: str, file: Path | None, unit_col: str, *, actor: str,
                 **options: Any) -> DatasetSpec:
        """`Registry.register` in its own transaction; `options` are its keyword options."""
        with self.db.unit_of_work() as session:
            return Registry(session, self.policies).register(name, file, unit_col,
                                                             actor=actor, **options)

    def set_budget(self, requester: str, dataset: str, epsilon: float, *, actor: str,
                   period: str | None = None) -> BudgetView:
        requester = _requester(requester)
        period = period or self.policy.default_period
        now = utcnow()
        with self.db.unit_of_work() as session:
            ds_id, _ = Registry(session, self.policies).get(dataset)
            ledger = Ledger(session, self.policy)
            ledger.set_limit(requester, ds_id, epsilon, period, now)
            ledger.open_period(requester, ds_id, now)
            AuditLog(session).record("budget.set", actor=actor, data={
                "requester": requester, "dataset": dataset, "epsilon_limit": epsilon,
                "period": period})
        key = period_key(period, now)
        return next(v for v in self.budgets(requester)
                    if v.dataset == dataset and v.period_key == key)

    def budgets(self, requester: str | None) -> list[BudgetView]:
        with self.db.reading() as session:
            return budget_views(session, requester)

    def _refuse(self, requester: str, ds_id: int, query: AggregateQuery, actor: str,
                reason: str, rule_id: str | None = None) -> Spend:
        """Count and audit a refusal in its own transaction; returns the ledger's state."""
        with self.db.unit_of_work() as session:
            state = Ledger(session, self.policy).refuse(requester, ds_id, utcnow())
            AuditLog(session).record("aggregate.refused", actor=actor, rule_id=rule_id, data={
                "requester": requester, "dataset": query.dataset, "reason": reason,
                "epsilon_requested": query.epsilon, "epsilon_remaining": state.remaining,
                "query_sha256": query_digest(query)})
        return state

    def _agreement(self, query: AggregateQuery, spec: DatasetSpec, used: set[str | None],
                   actor: str) -> RunRefused | None:
        """The alliance agreement (PIPL Art. 20-21): the brands whose silos answer and the
        coordinator must each have agreed to this purpose and these categories."""
        with self.db.reading() as session:
            return GovernanceService(session, self.policies, self.governance).refusal(
                kind="aggregate", run_id=query_digest(query),
                brands=sorted(spec.silos) if query.federated else [], purpose=query.purpose,
                categories=[spec.columns[c].data_category for c in used if c], actor=actor,
                record=False)

    def _linked(self, plan: FederatedPlan, run_id: str, requester: str, actor: str,
                as_of: datetime) -> tuple[Calibrated, pl.DataFrame, DedupCounts]:
        """A de-duplicated query: the linkage's consent and agreement checks as for an
        overlap (PIPL Art. 23, 55(3)), the ring and the secure sum over kept customers, the
        brands' consent digests checked, and noise for one silo per person."""
        if self.dedup_sum is None or self.linkage is None:
            raise ComityError("de-duplicated aggregates are not configured on this server",
                              status_code=501)
        brands = tuple(sorted(plan.spec.silos))
        self.linkage.check(run_id, requester, brands, actor, members_to=brands)
        summed, counts = self.dedup_sum(plan, run_id, as_of.isoformat())
        self.linkage.verify(run_id, requester, brands, actor, counts.consent_sha256, as_of)
        cal, raw = release_sum(summed, plan, 1, why=DEDUP_WHY)
        return cal, raw, counts

    def _release(self, query: AggregateQuery, spec: DatasetSpec, plan: FederatedPlan | None,
                 linkage: tuple[str, str, str, datetime] | None = None
                 ) -> tuple[Calibrated, pl.DataFrame, DedupCounts | None]:
        """The noisy statistics, not yet shown to anyone. `linkage` (run id, requester,
        actor, as-of) makes a federated query de-duplicated (`_linked`)."""
        if plan is None:
            if not spec.source:
                raise InputError(f"dataset '{spec.name}' lives only in brand silos; ask with "
                                 '"federated": true', column="federated")
            cal = self.cache.get(query, spec, self.policy.query_delta)
            self.checks.ensure(spec)
            return cal, execute(cal, scan(spec, query)), None
        if linkage is None and self.secure_sum is None:
            raise ComityError("federated aggregates are not configured on this server",
                              status_code=501)
        for source in spec.silos.values():
            self.checks.ensure(spec, source)
        if linkage is not None:
            return self._linked(plan, *linkage)
        assert self.secure_sum is not None
        summed, reporting = self.secure_sum(plan)
        return (*release_sum(summed, plan, reporting), None)

    def query(self, requester: str, query: AggregateQuery, *, actor: str | None = None
              ) -> AggregateAnswer:
        actor = actor or requester
        now = utcnow()
        with self.db.reading() as session:
            ds_id, spec = Registry(session, self.policies).get(query.dataset)
            remaining = Ledger(session, self.policy).peek(requester, ds_id, now)
        validate(query, spec, self.policy)
        plan = federated_plan(query, spec) if query.federated else None
        used = {query.column, *query.group_by, *(f.column for f in query.filters)} - {None}
        decision = self.engine.decide(DecisionRequest(
            brand_id="*", purpose=query.purpose, jurisdiction=spec.jurisdiction,
            consent=ConsentState.NONE, requester=requester,
            data_categories=frozenset(spec.columns[c].data_category for c in used if c)))
        if not decision.allowed:
            self._refuse(requester, ds_id, query, actor, "policy", decision.rule_id)
            raise PolicyDenied(decision.rule_id, decision.explanation)
        refused = self._agreement(query, spec, used, actor)
        if refused is not None:
            self._refuse(requester, ds_id, query, actor, "agreement", refused.rule_id)
            raise refused
        cost = to_micro(query.epsilon)
        if round(remaining * MICRO) < cost:
            state = self._refuse(requester, ds_id, query, actor, "budget")
            raise BudgetExhausted(requested=query.epsilon, remaining=state.remaining,
                                  period_key=state.period_key)
        linkage = str(uuid.uuid4()) if query.dedup else None
        cal, raw, counts = self._release(
            query, spec, plan, None if linkage is None else (linkage, requester, actor, now))
        groups, suppressed = finish(raw, cal, query, spec, self.policy.min_group_size)
        with self.db.unit_of_work() as session:
            state = Ledger(session, self.policy).spend(requester, ds_id, cost, utcnow())
            audit = AuditLog(session)
            digest = query_digest(query)
            if state.ok:
                release_id = session.execute(insert(DpRelease).values(
                    ledger_id=state.ledger_id, requester=requester, dataset_id=ds_id,
                    purpose=query.purpose, rule_id=decision.rule_id, measure=query.measure,
                    query_sha256=digest, epsilon_micro=cost, delta=cal.delta,
                    groups_released=len(groups), groups_suppressed=suppressed,
                    federated=query.federated, created_at=utcnow(),
                ).returning(DpRelease.id)).scalar_one()
                anchors.touch(session, "dp_releases", [release_id])
                if counts is not None and linkage is not None and self.linkage is not None:
                    self.linkage.record_linkage(session, run_id=linkage, requester=requester,
                                                actor=actor, counts=counts, as_of=now,
                                                release_id=release_id)
            audit.record(
                "aggregate.release" if state.ok else "aggregate.refused", actor=actor,
                rule_id=decision.rule_id,
                data={"requester": requester, "dataset": query.dataset,
                      "measure": query.measure, "column": query.column,
                      "group_by": query.group_by,
                      "filters": [f"{f.column} {f.op}" for f in query.filters],
                      "query_sha256": digest, "epsilon": query.epsilon, "delta": cal.delta,
                      "federated": query.federated, "dedup": query.dedup,
                      **({"linkage_run_id": linkage} if linkage else {}),
                      "epsilon_remaining": state.remaining, "period": state.period_key,
                      **({"release_id": release_id, "groups": len(groups),
                          "suppressed": suppressed} if state.ok else {"reason": "budget"})})
        if not state.ok:
            raise BudgetExhausted(requested=query.epsilon, remaining=state.remaining,
                                  period_key=state.period_key)
        return AggregateAnswer(
            dataset=query.dataset, measure=query.measure, groups=groups, suppressed=suppressed,
            epsilon_spent=cost / MICRO, delta_spent=cal.delta,
            epsilon_remaining=state.remaining, noise=list(cal.noise), keys=cal.keys,  # type: ignore[arg-type]
            min_group_size=self.policy.min_group_size, release_id=release_id,
            federated=query.federated, population="linked" if query.dedup else "all")
