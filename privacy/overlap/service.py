"""Answer an overlap request: agreement and assessment, budget, PSI, release, record and
audit, in that order (the order of `privacy.aggregates.service`).

Cardinality mode (the default) releases the size with OpenDP noise: one person adds or
removes at most one key at each brand (the join keys are distinct per brand), so the size
moves by at most 1 (`privacy.overlap.release`). The epsilon is charged to the requester's
ledger on the brand pair's overlap dataset (`overlap:<a>+<b>`, made on first use), in the
transaction that records the release. Exact mode gives the intersection to the requesting
brand only, and only where the agreement's join key lists it in `exact_to`; nothing is
noised there and nothing is charged: the brand learns its own consented customers that the
other brand also holds, as its customers' separate consent allows (PIPL Art. 23).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from compliance.audit import anchors
from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.consent.state import snapshot_digest
from compliance.database import Database, utcnow
from compliance.errors import ComityError, NotFoundError
from compliance.governance.errors import RunRefused
from compliance.governance.service import GovernanceService
from compliance.policy.governance import check_agreement, load_governance
from compliance.policy.schemas import PolicySet
from compliance.subjects.models import Brand
from privacy.aggregates.errors import BudgetExhausted
from privacy.aggregates.ledger import MICRO, Ledger, to_micro
from privacy.aggregates.models import DpDataset
from privacy.overlap.dedup import DedupCounts
from privacy.overlap.models import OverlapRun
from privacy.overlap.release import noisy_size
from privacy.overlap.schemas import OverlapIn, OverlapOut, PsiCounts

PURPOSE = "cross_brand_sharing"
EXACT_RULE = "alliance.join_key.exact_to"
# run id, (requesting brand, other brand), consent as-of (ISO), exact -> what the relay saw
PsiRunner = Callable[[str, tuple[str, str], str, bool], PsiCounts]


def dataset_name(brands: tuple[str, str]) -> str:
    a, b = sorted(brands)
    name = f"overlap:{a}+{b}"
    return name if len(name) <= 64 else f"overlap:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


class OverlapService:
    def __init__(self, db: Database, policies: PolicySet, *, run: PsiRunner | None = None
                 ) -> None:
        self.db = db
        self.policies = policies
        self.governance = load_governance(policies)
        self.run = run

    def _dataset(self, session: Session, brands: tuple[str, str], actor: str) -> int:
        """The brand pair's ledger dataset: no file, no columns, only a budget."""
        name = dataset_name(brands)
        found = session.scalar(select(DpDataset.id).where(DpDataset.name == name))
        if found is not None:
            return int(found)
        row = DpDataset(name=name, source="", format="psi", unit_col="join_key",
                        max_rows_per_unit=1, max_rows=0, jurisdiction="pipl", columns={},
                        silos={b: "" for b in sorted(brands)}, registered_by=actor,
                        registered_at=utcnow())
        session.add(row)
        session.flush()
        return row.id

    def _refuse(self, run_id: str, requester: str, brands: tuple[str, ...], actor: str,
                exc: ComityError, rule_id: str | None) -> ComityError:
        with self.db.unit_of_work() as session:
            AuditLog(session).record("overlap.refused", actor=actor, rule_id=rule_id, data={
                "run_id": run_id, "requester": requester, "brands": list(brands),
                "reason": exc.message})
        return exc

    def check(self, run_id: str, requester: str, brands: tuple[str, ...], actor: str, *,
              members_to: tuple[str, ...] = ()) -> None:
        """Every brand registered, the agreement and an approved assessment cover the
        purpose (PIPL Art. 20, 55(3)), every brand agreed to the join key's category, and
        every brand in `members_to`, which learns which of its customers another brand
        holds, listed in the agreement's `exact_to`: the requester in exact mode, and every
        brand a de-duplicated aggregate links (a customer it does not keep is one that
        another brand also holds). An overlap's two brands, or all the brands it links."""
        jk = self.governance.agreement.join_key
        with self.db.unit_of_work() as session:
            for b in brands:
                if session.get(Brand, b) is None:
                    raise NotFoundError(f"brand '{b}' is not registered")
            refused: ComityError | None = GovernanceService(
                session, self.policies, self.governance).refusal(
                kind="overlap", run_id=run_id, brands=list(brands), purpose=PURPOSE,
                actor=actor)
        if refused is not None:
            raise refused
        if jk is None:
            raise self._refuse(run_id, requester, brands, actor, ComityError(
                "the alliance agreement names no join key for overlaps", status_code=403),
                None)
        cat = check_agreement(self.governance.agreement, parties=brands, purpose=PURPOSE,
                              categories=[jk.category], on=utcnow().date())
        if cat is not None:
            raise self._refuse(run_id, requester, brands, actor,
                               RunRefused(cat.rule_id, cat.explanation), cat.rule_id)
        outside = [b for b in members_to if b not in jk.exact_to]
        if outside:
            raise self._refuse(run_id, requester, brands, actor, RunRefused(
                EXACT_RULE, f"brand {', '.join(outside)} would learn which of its customers "
                f"another brand holds; the agreement allows that only to "
                f"{', '.join(jk.exact_to) or 'no brand'} (ask for the noisy size)"), EXACT_RULE)

    def overlap(self, requester: str, body: OverlapIn, *, actor: str | None = None
                ) -> OverlapOut:
        actor = actor or requester
        if self.run is None:
            raise ComityError("overlaps are not configured on this server", status_code=501)
        run_id = str(uuid.uuid4())
        brands = (body.brands[0], body.brands[1])
        self.check(run_id, requester, brands, actor,
                   members_to=(brands[0],) if body.exact else ())
        jk = self.governance.agreement.join_key
        assert jk is not None
        cost = 0 if body.exact else to_micro(body.epsilon)
        now = utcnow()
        if not body.exact:
            with self.db.unit_of_work() as session:
                ds_id = self._dataset(session, brands, actor)
                remaining = Ledger(session, self.policies.aggregates).peek(requester, ds_id, now)
            if round(remaining * MICRO) < cost:
                with self.db.unit_of_work() as session:
                    state = Ledger(session, self.policies.aggregates).refuse(requester, ds_id,
                                                                            now)
                exc = BudgetExhausted(requested=body.epsilon, remaining=state.remaining,
                                      period_key=state.period_key)
                raise self._refuse(run_id, requester, brands, actor, exc, None)
        counts = self.run(run_id, brands, now.isoformat(), body.exact)
        self.verify(run_id, requester, brands, actor, counts.consent_sha256, now)
        return self.record(run_id, requester, actor, body, counts, now, cost)

    def verify(self, run_id: str, requester: str, brands: tuple[str, ...], actor: str,
               digests: dict[str, str], as_of: datetime) -> None:
        """Each brand gated on the consent records the coordinator holds (`digests`: of its
        cross_brand_sharing snapshot at the run's as-of time), as the training gate checks
        (`federation.coordinator.gate_check`); otherwise nothing is released."""
        with self.db.reading() as session:
            consent = ConsentService(session)
            bad = [b for b in brands if digests.get(b) != snapshot_digest(
                consent.snapshot(b, PURPOSE, as_of))]
        if bad:
            raise self._refuse(run_id, requester, brands, actor, ComityError(
                f"brand '{bad[0]}' gated the linkage on a different consent snapshot than "
                "the compliance records; nothing released", status_code=502), None)

    def _lineage(self, session: Session, *, run_id: str, requester: str, actor: str,
                 brands: tuple[str, ...], mode: str, entered: dict[str, int],
                 consent: dict[str, str], size: int | None, as_of: datetime, cost: int = 0,
                 ledger_id: int | None = None, audit: dict[str, Any] | None = None) -> int:
        """The run's lineage row (anchored) and its `overlap.release` audit event, in the
        caller's transaction: who asked, which brands, how many entered, what was released.
        The row's brand columns hold the first brand and the others (comma-separated, or
        `*` where they do not fit)."""
        jk = self.governance.agreement.join_key
        assert jk is not None
        others = ",".join(brands[1:])
        row_id = session.execute(insert(OverlapRun).values(
            run_id=run_id, requester=requester, actor=actor, requesting_brand=brands[0],
            other_brand=others if len(others) <= 64 else "*", mode=mode,
            join_key=f"{jk.category}:{jk.normalize}",
            agreement_version=self.governance.agreement.version, consent_as_of=as_of,
            entered=entered, size_released=size or 0, epsilon_micro=cost,
            ledger_id=ledger_id, created_at=utcnow()).returning(OverlapRun.id)).scalar_one()
        anchors.touch(session, "overlap_runs", [row_id])
        AuditLog(session).record("overlap.release", actor=actor, rule_id=None, data={
            "run_id": run_id, "requester": requester, "brands": list(brands), "mode": mode,
            "join_key": f"{jk.category}:{jk.normalize}", "entered": entered,
            "consent_snapshot_sha256": consent, "size_released": size,
            "epsilon": cost / MICRO, **(audit or {}), "overlap_run_id": row_id})
        return int(row_id)

    def record_linkage(self, session: Session, *, run_id: str, requester: str, actor: str,
                       counts: DedupCounts, as_of: datetime, release_id: int) -> int:
        """A de-duplicated aggregate's linkage (`privacy.overlap.dedup`), in the transaction
        that records its DP release: lineage and audit as for an overlap (mode `dedup`), with
        how many points were dropped as duplicates. No size is released by it (the aggregate
        is the release, and its epsilon is the aggregate's)."""
        return self._lineage(session, run_id=run_id, requester=requester, actor=actor,
                             brands=tuple(counts.entered), mode="dedup",
                             entered=counts.entered, consent=counts.consent_sha256, size=None,
                             as_of=as_of, audit={"kept": counts.kept,
                                                 "dropped_duplicates": counts.dropped,
                                                 "dp_release_id": release_id})

    def record(self, run_id: str, requester: str, actor: str, body: OverlapIn,
               counts: PsiCounts, as_of: datetime, cost: int) -> OverlapOut:
        """Release what a completed PSI found (noised unless exact), spend `cost` micro-epsilon,
        and record the run with its audit event, in one transaction."""
        jk = self.governance.agreement.join_key
        assert jk is not None
        brands = (body.brands[0], body.brands[1])
        scale = ci = None
        if body.exact:
            if counts.matched != counts.size:
                raise ComityError(f"the requesting brand matched {counts.matched} keys, the "
                                  f"relay counted {counts.size}", status_code=502)
            size = counts.size
        else:
            size, scale, accuracy = noisy_size(counts.size, body.epsilon)
            ci = (max(0.0, size - accuracy), size + accuracy)
        remaining = None
        ledger_id = None
        with self.db.unit_of_work() as session:
            if not body.exact:
                ds_id = self._dataset(session, brands, actor)
                state = Ledger(session, self.policies.aggregates).spend(requester, ds_id, cost,
                                                                        utcnow())
                if not state.ok:
                    AuditLog(session).record("overlap.refused", actor=actor, data={
                        "run_id": run_id, "requester": requester, "brands": list(brands),
                        "reason": "budget"})
                    raise BudgetExhausted(requested=body.epsilon, remaining=state.remaining,
                                          period_key=state.period_key)
                remaining, ledger_id = state.remaining, state.ledger_id
            self._lineage(session, run_id=run_id, requester=requester, actor=actor,
                          brands=brands, mode="exact" if body.exact else "cardinality",
                          entered=counts.entered, consent=counts.consent_sha256,
                          size=size, as_of=as_of, cost=cost, ledger_id=ledger_id,
                          audit={"noise_scale": scale, "epsilon_remaining": remaining})
        return OverlapOut(
            run_id=run_id, brands=list(brands), mode="exact" if body.exact else "cardinality",
            join_key=f"{jk.category}:{jk.normalize}", entered=counts.entered, size=size,
            noise_scale=scale, ci95=ci, epsilon_spent=cost / MICRO,
            epsilon_remaining=remaining,
            result_at=f"{brands[0]}: state/overlaps/{run_id}.csv" if body.exact else None,
            bytes_sent=counts.bytes_sent)
