"""Generated compliance records for report tests and the report benchmark: subjects,
consent events, training runs with lineage and gate decisions, data-subject requests, DP
releases and retention actions, all with a valid audit chain, inside one period.

Pseudonyms only (hex keys); nothing here looks like personal data. Rows go in through Core
bulk inserts so a million subjects take seconds, not minutes.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.report.period import Period
from compliance.requests.models import SubjectRequest
from compliance.subjects.models import Brand, Subject
from federation.coordinator.lineage.models import ModelVersion, TrainingRun, TrainingRunBrand
from privacy.aggregates.models import BudgetLedger, DpDataset, DpRelease
from privacy.keys import audit_signing_key

BRANDS = (("lumen-tea", "pipl"), ("north-outfitters", "pipl"), ("jade-beauty", "pipl"),
          ("harbour-books", "gdpr"), ("sierra-coffee", "ccpa"))
PURPOSES = ("model_training", "analytics_aggregate", "cross_brand_sharing", "marketing")
REQUEST_TYPES = ("access", "portability", "correction", "deletion", "withdraw_consent",
                 "refuse_personalization")
DROPPED = {"name": "identifying (name)", "phone": "identifying (phone)",
           "email": "identifying (email)", "note": "PII detected (PHONE_NUMBER)"}
ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class Scale:
    subjects: int = 1_000_000
    consent_events: int = 100_000
    runs: int = 1_000
    decisions_per_brand: int = 40  # gate.decision audit events per brand and run
    requests: int = 2_000
    late_requests: int = 0
    releases: int = 2_000


def subject_key(i: int) -> str:
    return hashlib.blake2b(i.to_bytes(8, "big"), digest_size=16).hexdigest()


def generate(db: Database, period: Period, scale: Scale, *, seed: int = 0,
             progress: ProgressFn | None = None) -> dict[str, int]:
    """Fill an empty database with records for `period`; returns what was written."""
    say = progress or (lambda _m: None)
    rng = random.Random(seed)
    span = (period.end - period.start).total_seconds()

    def at(frac: float | None = None) -> datetime:
        return period.start + timedelta(seconds=span * (rng.random() if frac is None
                                                        else frac))

    policies = load_policies()
    deadline = {j: policies.deadlines[j].days for j in policies.deadlines}
    engine = db.engine
    with engine.begin() as conn:
        conn.execute(insert(Brand), [{"id": b, "name": b.replace("-", " ").title(),
                                      "jurisdiction": j, "created_at": period.start}
                                     for b, j in BRANDS])
    say(f"{scale.subjects:,} subjects")
    brand_of = [BRANDS[i % len(BRANDS)] for i in range(scale.subjects)]
    unguarded: set[int] = set()
    chunk = 50_000
    with engine.begin() as conn:
        for lo in range(0, scale.subjects, chunk):
            rows = []
            for i in range(lo, min(lo + chunk, scale.subjects)):
                minor = rng.random() < 0.03
                guardian = minor and rng.random() < 0.4
                if minor and not guardian:
                    unguarded.add(i)
                rows.append({"id": i + 1, "brand_id": brand_of[i][0],
                             "subject_key": subject_key(i),
                             "jurisdiction": brand_of[i][1], "is_minor": minor,
                             "guardian_consent": guardian,
                             "created_at": period.start, "last_activity_at": at()})
            conn.execute(insert(Subject), rows)
    say(f"{scale.consent_events:,} consent events")
    events = []
    for _ in range(scale.consent_events):
        i = rng.randrange(scale.subjects)
        purpose = rng.choice(PURPOSES)
        r = rng.random()
        action = "grant" if r < 0.8 else "withdraw" if r < 0.95 else "refuse"
        events.append({"brand_id": brand_of[i][0], "subject_id": i + 1, "purpose": purpose,
                       "action": action, "separate": purpose == "cross_brand_sharing",
                       "by_guardian": False, "notice_version": "2026-01", "channel": "app",
                       "lawful_basis": "consent", "actor": f"brand:{brand_of[i][0]}",
                       "occurred_at": at(), "recorded_at": period.start})
    with engine.begin() as conn:
        for lo in range(0, len(events), chunk):
            conn.execute(insert(ConsentEvent), events[lo:lo + chunk])

    say(f"{scale.runs:,} training runs")
    per_brand: dict[str, list[int]] = {b: [] for b, _ in BRANDS}
    for i in range(min(scale.subjects, 200_000)):
        per_brand[brand_of[i][0]].append(i)
    runs, lineage, versions, audit_batches = [], [], [], []
    for n in range(scale.runs):
        run_id = str(uuid.UUID(int=rng.getrandbits(128)))
        started = at(n / max(scale.runs, 1) * 0.98)
        brands = rng.sample([b for b, _ in BRANDS], 3)
        model = "churn" if n % 2 else "recommend"
        auc = 0.8 + 0.1 * rng.random()
        alone = round(auc - 0.06, 4)  # each brand's local-only model, a little below
        runs.append({"id": run_id, "model": model, "purpose": "model_training",
                     "strategy": "fedavg+secagg", "status": "completed", "rounds": 8,
                     "consent_as_of": started - timedelta(hours=1),
                     "config": {"secure_aggregation": True},
                     "metrics": {"final": {"auc": auc},
                                 "per_brand_lift": {b: {"auc": {
                                     "federated": round(auc, 4), "local_only": alone,
                                     "lift": round(auc / alone - 1, 4)}} for b in brands},
                                 "secure_aggregation": True,
                                 "dp": {"epsilon": 3.0, "delta": 1e-5}},
                     "started_at": started, "finished_at": started + timedelta(minutes=5)})
        versions.append({"model": model, "version": n + 1, "run_id": run_id,
                         "weights_sha256": hashlib.sha256(run_id.encode()).hexdigest(),
                         "weights": b"", "created_at": started + timedelta(minutes=5)})
        items: list[tuple[str, dict[str, Any], str | None, str | None]] = [
            ("training.started", {"run_id": run_id, "model": model, "brands": brands}, None,
             None)]
        for b in brands:
            used = rng.randrange(1000, 5000)
            snapshot = hashlib.sha256(f"{run_id}{b}".encode()).hexdigest()
            lineage.append({"run_id": run_id, "brand_id": b, "records_used": used,
                            "excluded_no_consent": used // 10, "excluded_minor": used // 50,
                            "consent_snapshot_sha256": snapshot, "dropped_columns": DROPPED})
            for i in rng.sample(per_brand[b], scale.decisions_per_brand):
                allowed = i not in unguarded and rng.random() < 0.85
                rule = ("pipl.art13.consent" if allowed else "pipl.art31.minor_without_guardian"
                        if i in unguarded else "pipl.art15.withdrawn")
                items.append(("gate.decision", {"run_id": run_id, "subject": subject_key(i),
                                                "purpose": "model_training",
                                                "allowed": allowed}, b, rule))
            items.append(("gate.summary", {"run_id": run_id, "records_used": used,
                                           "consent_snapshot_sha256": snapshot,
                                           "dropped_columns": DROPPED,
                                           "categories": ["city", "purchase_history"]}, b, None))
        items.append(("training.completed", {"run_id": run_id, "model": model}, None, None))
        audit_batches.append((started, "coordinator", items))

    say(f"{scale.requests:,} data-subject requests")
    requests = []
    for n in range(scale.requests):
        i = rng.randrange(scale.subjects)
        brand, law = brand_of[i]
        received = at(n / max(scale.requests, 1) * 0.9)
        due = received + timedelta(days=deadline[law])
        late = n < scale.late_requests
        closed = due + timedelta(days=2) if late else received + timedelta(
            days=rng.uniform(0.5, deadline[law] * 0.8))
        kind = rng.choice(REQUEST_TYPES)
        requests.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "brand_id": brand,
                         "subject_id": i + 1, "type": kind, "jurisdiction": law,
                         "status": "completed", "received_at": received, "due_at": due,
                         "closed_at": closed, "details": {}, "result": {}})
        audit_batches.append((received, f"brand:{brand}", [
            ("request.opened", {"request_id": requests[-1]["id"], "type": kind}, brand, None)]))
        audit_batches.append((closed, f"brand:{brand}", [
            ("request.completed", {"request_id": requests[-1]["id"], "type": kind,
                                   "on_time": not late}, brand, None)]))

    say(f"{scale.releases:,} DP releases")
    with engine.begin() as conn:
        conn.execute(insert(DpDataset), [{
            "id": 1, "name": "segments", "source": "generated", "format": "parquet",
            "unit_col": "customer_id", "max_rows_per_unit": 1, "max_rows": 10_000_000,
            "jurisdiction": "pipl", "columns": {}, "silos": {}, "version": 1,
            "registered_by": "admin", "registered_at": period.start}])
        month_keys = sorted({f"{d.year:04d}-{d.month:02d}" for d in (
            period.start + timedelta(days=k) for k in range(int(span // 86400)))})
        ledger_ids = {}
        for k, key in enumerate(month_keys):
            ledger_ids[key] = k + 1
            conn.execute(insert(BudgetLedger), [{
                "id": k + 1, "requester": "service:insights", "dataset_id": 1,
                "period": "month", "period_key": key, "limit_micro": 10_000_000,
                "spent_micro": 0, "releases": 0, "refusals": 0}])
    releases, spent, counts = [], dict.fromkeys(ledger_ids, 0), dict.fromkeys(ledger_ids, 0)
    eps = 10_000_000 // max(scale.releases, 1)  # a month never spends past its limit
    for n in range(scale.releases):
        when = at(n / max(scale.releases, 1))
        key = f"{when.year:04d}-{when.month:02d}"
        spent[key] += eps
        counts[key] += 1
        releases.append({"ledger_id": ledger_ids[key], "requester": "service:insights",
                         "dataset_id": 1, "purpose": "analytics_aggregate",
                         "rule_id": "pipl.dp_aggregate.service", "measure": "count",
                         "query_sha256": hashlib.sha256(str(n).encode()).hexdigest(),
                         "epsilon_micro": eps, "delta": 0.0, "groups_released": 4,
                         "groups_suppressed": 0, "federated": True, "created_at": when})
        audit_batches.append((when, "service:insights", [
            ("aggregate.release", {"release": n, "epsilon": eps / 1e6}, None,
             "pipl.dp_aggregate.service")]))
    audit_batches.append((at(0.5), "retention", [
        ("retention.erased", {"subjects": 120, "cutoff": period.start.isoformat()}, None,
         "retention.inactive_customer")]))

    with engine.begin() as conn:
        for table, rows in ((TrainingRun, runs), (TrainingRunBrand, lineage),
                            (ModelVersion, versions), (SubjectRequest, requests),
                            (DpRelease, releases)):
            for lo in range(0, len(rows), chunk):
                conn.execute(insert(table), rows[lo:lo + chunk])
        for key, micro in spent.items():
            conn.execute(update(BudgetLedger).where(BudgetLedger.id == ledger_ids[key])
                         .values(spent_micro=micro, releases=counts[key]))
    say("audit chain")
    audit_batches.sort(key=lambda b: b[0])
    events_written = 0
    with db.unit_of_work() as session:
        log = AuditLog(session)
        for when, actor, items in audit_batches:
            log.record_many(items, actor=actor, occurred_at=when)
            events_written += len(items)
        events_written += -(-log.anchor_unanchored("synthetic") // 10_000)
        sealed = log.checkpoint(audit_signing_key())
        if sealed is not None:  # sealed at the end of the generated period
            sealed.created_at = period.end - timedelta(hours=1)
    return {"subjects": scale.subjects, "consent_events": len(events), "runs": len(runs),
            "requests": len(requests), "releases": len(releases),
            "audit_events": events_written}
