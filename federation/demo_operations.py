"""The demo's brand-operations step (issue 25): a staff member's masked lookup and a
supervisor's confirmed one-field reveal, an A/B readout for an internal service (and one
refused for a small arm), and the 7-day trace of the customer looked up.

The A/B outcome table is synthetic (a coupon test on the first brand's pseudonymized
customers, arms assigned by a keyed hash of the pseudonym, repeated to the documents'
1,000-per-arm scale); everything else runs through the same services as the API."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from compliance.audit.trace import TraceService
from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from compliance.subjects.models import Subject
from compliance.tokens.service import TokenService
from privacy.aggregates.service import AggregateService
from privacy.experiments.schemas import ExperimentIn
from privacy.experiments.service import ArmTooSmall, ExperimentService
from privacy.masking.policy import default_masking
from privacy.masking.service import LookupService
from privacy.vault.service import Vault

AB_SERVICE = "service:growth"
SENSITIVE = ("name", "phone", "resident_id", "bank_card")


def _principal(db: Database, role: str, name: str) -> Any:
    with db.unit_of_work() as s:
        token = TokenService(s).create(role, principal=name, actor="admin")
    with db.reading() as s:
        return TokenService(s).authenticate(token)


def demo_lookup(db: Database, brand: str, customers: pd.DataFrame, key_col: str,
                columns: dict[str, str], pseudonym: Any) -> dict[str, Any]:
    """One customer's sensitive fields go into the vault (as the brand's CRM sync stores
    them), a staff member looks the customer up masked, a supervisor sees the phone in
    clear after a second supervisor confirmed."""
    by_cat = {cat: col for col, cat in columns.items()}
    have = [c for c in SENSITIVE if c in by_cat]
    rows = customers[customers[[by_cat[c] for c in have]].astype(str).ne("").all(axis=1)]
    row = rows.iloc[0] if len(rows) else customers.iloc[0]
    key = pseudonym(str(row[key_col]))
    with db.unit_of_work() as s:
        subj = s.scalar(select(Subject).where(Subject.brand_id == brand,
                                              Subject.subject_key == key))
        if subj is None:
            subj = Subject(brand_id=brand, subject_key=key)
            s.add(subj)
            s.flush()
        Vault(s).put(subj.id, {c: str(row[by_cat[c]]) for c in have if str(row[by_cat[c]])})
    staff = _principal(db, f"brand:{brand}:staff", f"staff-{brand}")
    sup = _principal(db, f"brand:{brand}:supervisor", f"supervisor-{brand}")
    other = _principal(db, f"brand:{brand}:supervisor", f"supervisor2-{brand}")
    policy = default_masking()
    with db.unit_of_work() as s:
        masked = LookupService(s, policy).lookup(staff, brand, key)
    with db.unit_of_work() as s:
        asked = LookupService(s, policy).request_reveal(
            sup, brand, key, "phone", "Courier could not deliver; customer asked for a call")
    with db.unit_of_work() as s:
        LookupService(s, policy).confirm(other, asked.id)
    with db.unit_of_work() as s:
        opened = LookupService(s, policy).open(sup, asked.id)
    return {"subject": key, "staff_view": masked.model_dump(mode="json"),
            "reveal": {"id": asked.id, "field": opened.field, "reason_given": True,
                       "confirmed_by": "a second supervisor", "value_shown_once": True}}


def _ab_table(pseudonyms: list[str], per_arm: int, seed: int) -> pd.DataFrame:
    """A coupon test: arms by a keyed hash of the pseudonym; conversion 12% (control) vs
    16% (coupon); spend when converted. A third arm, `holdout`, is kept small on purpose."""
    rng = np.random.default_rng(seed)
    ids = [f"{p}-{i}" for i in range(-(-2 * per_arm // max(len(pseudonyms), 1)))
           for p in pseudonyms][: 2 * per_arm]
    arm = np.where([int(hashlib.sha256(f"ab1:{x}".encode()).hexdigest(), 16) % 2 == 0
                    for x in ids], "control", "coupon")
    frame = pd.DataFrame({"customer_id": ids, "arm": arm})
    small = pd.DataFrame({"customer_id": [f"h-{i}" for i in range(300)], "arm": "holdout"})
    frame = pd.concat([frame, small], ignore_index=True)
    rate = np.where(frame["arm"] == "coupon", 0.16, 0.12)
    frame["converted"] = (rng.random(len(frame)) < rate).astype(float)
    frame["spend"] = frame["converted"] * rng.lognormal(4.3, 0.5, len(frame)).clip(0, 2000)
    return frame


def demo_ab(db: Database, pseudonyms: list[str], work: Path, seed: int) -> dict[str, Any]:
    policies = load_policies()
    work.mkdir(parents=True, exist_ok=True)
    path = work / "ab_coupon.parquet"
    _ab_table(pseudonyms, 1500, seed).to_parquet(path, index=False)
    agg = AggregateService(db, policies)
    agg.register("ab_coupon", path, "customer_id", actor="admin",
                 bounds={"converted": (0.0, 1.0), "spend": (0.0, 2000.0)},
                 categories={"arm": ["control", "coupon", "holdout"]},
                 data_categories={"converted": "purchase_history", "spend": "purchase_history",
                                  "arm": "behavioral_features"})
    agg.set_budget(AB_SERVICE, "ab_coupon", 4.0, actor="dpo", period="month")
    svc = ExperimentService(db, policies, agg)
    now = utcnow()
    base = {"dataset": "ab_coupon", "assignment_col": "arm", "control_arm": "control",
            "conversion_col": "converted", "spend_col": "spend",
            "starts_at": now - timedelta(days=14), "ends_at": now - timedelta(days=1)}
    svc.register(AB_SERVICE, ExperimentIn.model_validate(
        {**base, "key": "coupon-1", "arms": ["control", "coupon"]}), actor=AB_SERVICE)
    svc.register(AB_SERVICE, ExperimentIn.model_validate(
        {**base, "key": "coupon-holdout", "arms": ["control", "holdout"]}), actor=AB_SERVICE)
    readout = svc.readout(AB_SERVICE, "coupon-1", 1.5, actor=AB_SERVICE)
    try:
        svc.readout(AB_SERVICE, "coupon-holdout", 0.3, actor=AB_SERVICE)
        refused: dict[str, Any] = {"refused": False}
    except ArmTooSmall as exc:
        refused = {"refused": True, "reason": exc.message}
    return {"readout": readout.model_dump(mode="json"), "small_arm": refused}


def demo_operations(db: Database, alliance: Any, out_dir: Path, seed: int = 7
                    ) -> dict[str, Any]:
    """Lookup, reveal, A/B readouts and the trace; returns what the demo writes."""
    policies = load_policies()
    brand = alliance.settings.brands[0]
    node = alliance.nodes()[brand]
    silo = node.silo(policies)
    cmap = silo.column_map.customers
    lookup = demo_lookup(db, brand, silo.customers, cmap.key, dict(cmap.columns),
                         node.pseudonymizer)
    pseudonyms = [node.pseudonymizer(str(c)) for c in silo.customers[cmap.key]]
    ab = demo_ab(db, pseudonyms, out_dir, seed)
    with db.reading() as s:
        trace = TraceService(s, policies.purpose_categories()).trace(
            "subject", lookup["subject"], since="7d")
    return {"lookup": lookup, "ab": ab, "trace": trace.as_json()}
