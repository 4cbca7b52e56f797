"""A/B experiments for internal services and their readouts under DP.

A service registers an experiment (arms, the column that assigns each customer an arm, the
conversion and spend columns, start and end) on a dataset registered for DP aggregates. A
readout is three DP aggregates grouped by arm, each charged to the service's budget through
the aggregates ledger and audited as any release: the arm sizes, the conversion rate and the
mean spend. It is refused while any arm's noisy size is below the policy's `min_arm_size`
(the source documents ask for a control group and at least 1,000 per arm); the size query
is then already spent, and nothing else is released.

Intervals: each arm's 95% interval joins the sampling error (conversion: p(1-p)/n; spend:
the Popoviciu bound (b-a)^2/4 on a bounded variable's variance, conservative, since the
variance itself is not released) and the DP noise (the release's own 95% interval, as a
normal error). The difference to the control adds both arms' variances (independent arms).
"""

from __future__ import annotations

import math

from sqlalchemy import select

from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.errors import ComityError, ConflictError, InputError, NotFoundError
from compliance.policy.schemas import PolicySet
from compliance.tokens.service import ForbiddenError
from privacy.aggregates.registry import Registry
from privacy.aggregates.schemas import AggregateAnswer, AggregateQuery, DatasetSpec
from privacy.aggregates.service import AggregateService
from privacy.experiments.models import Experiment
from privacy.experiments.schemas import (
    ArmReadout,
    Difference,
    Estimate,
    ExperimentIn,
    ExperimentOut,
    Readout,
)

Z95 = 1.959963984540054


class ArmTooSmall(ComityError):
    status_code = 409


def _check_columns(body: ExperimentIn, spec: DatasetSpec) -> None:
    def col(name: str, field: str):  # type: ignore[no-untyped-def]
        if name not in spec.columns:
            raise InputError(f"column '{name}' is not in dataset '{spec.name}'", column=field)
        return spec.columns[name]

    arm = col(body.assignment_col, "assignment_col")
    if arm.dtype != "str" or arm.categories is None or \
            not set(body.arms) <= set(arm.categories):
        raise InputError(f"'{body.assignment_col}' must be a text column registered with the "
                         "arms among its categories (public keys)", column="assignment_col")
    conv = col(body.conversion_col, "conversion_col")
    if conv.bounds is None or conv.bounds[0] < 0 or conv.bounds[1] > 1:
        raise InputError(f"'{body.conversion_col}' must be numeric with bounds within [0, 1]",
                         column="conversion_col")
    if body.spend_col is not None and col(body.spend_col, "spend_col").bounds is None:
        raise InputError(f"'{body.spend_col}' must be numeric with declared bounds",
                         column="spend_col")


def _out(e: Experiment, dataset: str) -> ExperimentOut:
    return ExperimentOut(key=e.key, dataset=dataset, assignment_col=e.assignment_col,
                         arms=list(e.arms), control_arm=e.control_arm,
                         conversion_col=e.conversion_col, spend_col=e.spend_col,
                         starts_at=e.starts_at, ends_at=e.ends_at, requester=e.requester,
                         registered_at=e.registered_at)


def _se(ci: tuple[float, float] | None) -> float:
    return 0.0 if ci is None else (ci[1] - ci[0]) / (2 * Z95)


def _estimate(value: float, se: float, lo: float, hi: float) -> Estimate:
    return Estimate(value=value, ci95=(max(lo, value - Z95 * se), min(hi, value + Z95 * se)))


class ExperimentService:
    def __init__(self, db: Database, policies: PolicySet, aggregates: AggregateService) -> None:
        self.db = db
        self.policies = policies
        self.aggregates = aggregates

    def register(self, requester: str, body: ExperimentIn, *, actor: str) -> ExperimentOut:
        """Fixed before any readout: what is compared, and when. Audited."""
        if not requester.startswith("service:"):
            raise ForbiddenError("experiments are registered by internal services")
        with self.db.unit_of_work() as session:
            ds_id, spec = Registry(session, self.policies).get(body.dataset)
            _check_columns(body, spec)
            if session.scalar(select(Experiment.id).where(Experiment.key == body.key)):
                raise ConflictError(f"experiment '{body.key}' is already registered")
            e = Experiment(key=body.key, requester=requester, dataset_id=ds_id,
                           assignment_col=body.assignment_col, arms=list(body.arms),
                           control_arm=body.control_arm, conversion_col=body.conversion_col,
                           spend_col=body.spend_col, starts_at=body.starts_at,
                           ends_at=body.ends_at, registered_by=actor[:160],
                           registered_at=utcnow())
            session.add(e)
            session.flush()
            AuditLog(session).record("experiment.registered", actor=actor, data={
                "experiment": e.key, "requester": requester, "dataset": body.dataset,
                "arms": list(body.arms), "control_arm": body.control_arm,
                "starts_at": body.starts_at.isoformat(), "ends_at": body.ends_at.isoformat()})
            return _out(e, body.dataset)

    def get(self, key: str) -> tuple[Experiment, DatasetSpec]:
        with self.db.reading() as session:
            e = session.scalar(select(Experiment).where(Experiment.key == key))
            if e is None:
                raise NotFoundError(f"experiment '{key[:64]}' not found")
            from privacy.aggregates.models import DpDataset

            name = session.get_one(DpDataset, e.dataset_id).name
            _, spec = Registry(session, self.policies).get(name)
            session.expunge(e)
            return e, spec

    def _ask(self, requester: str, actor: str, spec: DatasetSpec, e: Experiment,
             measure: str, column: str | None, epsilon: float) -> AggregateAnswer:
        q = AggregateQuery.model_validate({
            "dataset": spec.name, "measure": measure, "column": column,
            "group_by": [e.assignment_col], "epsilon": epsilon})
        return self.aggregates.query(requester, q, actor=actor)

    def readout(self, requester: str, key: str, epsilon: float, *, actor: str) -> Readout:
        e, spec = self.get(key)
        if e.requester != requester:
            raise ForbiddenError(f"experiment '{key}' belongs to another service")
        now = utcnow()
        if now < e.starts_at:
            raise ConflictError(f"experiment '{key}' starts at {e.starts_at.isoformat()}")
        parts = 3 if e.spend_col else 2
        eps = epsilon / parts
        minimum = self.policies.aggregates.min_arm_size
        sizes = self._ask(requester, actor, spec, e, "count", None, eps)
        n = {str(g.key[e.assignment_col]): int(g.value or 0) for g in sizes.groups}
        small = sorted(a for a in e.arms if n.get(a, 0) < minimum)
        if small:
            with self.db.unit_of_work() as session:
                AuditLog(session).record("experiment.readout_refused", actor=actor,
                                         rule_id="aggregates.min_arm_size", data={
                                             "experiment": key, "requester": requester,
                                             "arms_below_minimum": small,
                                             "min_arm_size": minimum,
                                             "release_id": sizes.release_id})
            raise ArmTooSmall(f"experiment '{key}': arm(s) {', '.join(small)} have fewer than "
                              f"{minimum} subjects (noisy sizes: "
                              f"{ {a: n.get(a, 0) for a in e.arms} }); the size query was "
                              f"charged ({sizes.epsilon_spent:g})")
        answers = [sizes, self._ask(requester, actor, spec, e, "mean", e.conversion_col, eps)]
        if e.spend_col:
            answers.append(self._ask(requester, actor, spec, e, "mean", e.spend_col, eps))
        by_arm = [{str(g.key[e.assignment_col]): g for g in a.groups} for a in answers[1:]]
        arms: list[ArmReadout] = []
        ses: dict[str, tuple[float, float | None]] = {}
        for arm in e.arms:
            size = n[arm]
            conv = by_arm[0].get(arm)
            if conv is None or conv.value is None:
                raise ArmTooSmall(f"experiment '{key}': arm {arm} was suppressed")
            p = float(conv.value)
            se_c = math.sqrt(p * (1 - p) / size + _se(conv.ci95) ** 2)
            spend_est, se_s = None, None
            if e.spend_col:
                g = by_arm[1].get(arm)
                if g is None or g.value is None:
                    raise ArmTooSmall(f"experiment '{key}': arm {arm} was suppressed")
                lo, hi = spec.columns[e.spend_col].bounds or (0.0, 0.0)
                se_s = math.sqrt((hi - lo) ** 2 / 4 / size + _se(g.ci95) ** 2)
                spend_est = _estimate(float(g.value), se_s, lo, hi)
            ses[arm] = (se_c, se_s)
            arms.append(ArmReadout(arm=arm, control=arm == e.control_arm, subjects=size,
                                   conversion=_estimate(p, se_c, 0.0, 1.0),
                                   mean_spend=spend_est))
        control = next(a for a in arms if a.control)
        diffs: list[Difference] = []
        for a in arms:
            if a.control:
                continue
            d_conv = a.conversion.value - control.conversion.value
            se_d = math.hypot(ses[a.arm][0], ses[control.arm][0])
            d_spend = None
            if a.mean_spend is not None and control.mean_spend is not None:
                se_ds = math.hypot(ses[a.arm][1] or 0.0, ses[control.arm][1] or 0.0)
                d = a.mean_spend.value - control.mean_spend.value
                d_spend = _estimate(d, se_ds, -math.inf, math.inf)
            diffs.append(Difference(arm=a.arm, conversion=_estimate(d_conv, se_d, -1.0, 1.0),
                                    mean_spend=d_spend))
        release_ids = [a.release_id for a in answers]
        with self.db.unit_of_work() as session:
            AuditLog(session).record("experiment.readout", actor=actor, data={
                "experiment": key, "requester": requester, "release_ids": release_ids,
                "epsilon": sum(a.epsilon_spent for a in answers), "final": now >= e.ends_at})
        return Readout(experiment=key, final=now >= e.ends_at, arms=arms, differences=diffs,
                       epsilon_spent=sum(a.epsilon_spent for a in answers),
                       epsilon_remaining=answers[-1].epsilon_remaining,
                       release_ids=release_ids, min_arm_size=minimum,
                       method="DP aggregates per arm (OpenDP, aggregates ledger); 95% "
                              "intervals join sampling error and DP noise")
