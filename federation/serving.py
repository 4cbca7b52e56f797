"""Churn scoring at the brand with the latest federated model, under PIPL Art. 24.

A churn-risk score is an automated decision about a person. It is made only for customers the
policy engine allows for `personalized_recommendation` (the purpose whose source is Art. 24).
Features are computed from the categories that purpose allows, so birth dates are not used.
Anyone else gets no individual score, and the answer says so and why. Output carries pseudonyms
only; one audit event per scoring run records the counts and the model version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.database import Database, utcnow
from compliance.errors import NotFoundError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import DecisionRequest, SubjectFacts
from federation.brand import gated_tables
from federation.features import CHURN_FEATURES, churn_table, feature_matrix
from federation.gate import NO_RECORD
from federation.lineage.models import ModelVersion, TrainingRun
from federation.lineage.service import weights_from_blob
from federation.silo import load_silo
from federation.task import build_model, predict_proba, set_weights
from privacy.pseudonym import Pseudonymizer

SCORING_PURPOSE = "personalized_recommendation"


@dataclass(frozen=True)
class Score:
    subject: str
    personalized: bool
    churn_risk: float | None
    rule_id: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def latest_churn_model(db: Database) -> tuple[ModelVersion, str]:
    with db.reading() as s:
        row = s.execute(
            select(ModelVersion, TrainingRun.config)
            .join(TrainingRun, TrainingRun.id == ModelVersion.run_id)
            .where(ModelVersion.model == "churn", TrainingRun.status == "completed")
            .order_by(ModelVersion.version.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError("no trained churn model yet (run a federated training first)")
    return row[0], str(row[1].get("model_kind", "mlp"))


def score_churn(db: Database, silo: Path, *, customers: list[str] | None = None,
                as_of: date | None = None, actor: str = "brand") -> list[Score]:
    """`customers` are the brand's own customer ids (all customers when None)."""
    policies = load_policies()
    engine = PolicyEngine(policies)
    data = load_silo(silo, policies)
    cmap = data.column_map
    brand = cmap.brand_id
    pseudo = Pseudonymizer.for_brand(brand)
    mv, kind = latest_churn_model(db)
    with db.reading() as s:
        snapshot = ConsentService(s).snapshot(brand, SCORING_PURPOSE, utcnow())
    tables = gated_tables(data, snapshot=snapshot, engine=engine, purpose=SCORING_PURPOSE,
                          seed=0)
    ids = [str(c) for c in (customers if customers is not None
                            else data.customers[cmap.customers.key].astype(str))]
    known = set(data.customers[cmap.customers.key].astype(str))
    unknown = [c for c in ids if c not in known]
    if unknown:
        raise NotFoundError(f"{len(unknown)} requested customers are not in the silo of "
                            f"'{brand}' (first: {pseudo(unknown[0])})")
    if as_of is None and len(tables.orders):
        as_of = pd.to_datetime(tables.orders["ordered_at"]).max().date()
    cutoff = as_of or utcnow().date()
    table = churn_table(tables.orders, tables.customers, cutoff=cutoff, horizon_days=1)
    model = build_model(len(CHURN_FEATURES), kind)
    set_weights(model, weights_from_blob(mv.weights))
    risk = dict(zip(table["customer_id"], predict_proba(model, feature_matrix(table))[:, 1],
                    strict=True)) if len(table) else {}
    categories = frozenset(cmap.orders.columns.values()) & set(
        policies.purpose(SCORING_PURPOSE).allowed_categories)
    jurisdiction = cmap.jurisdiction
    out: list[Score] = []
    for cid in ids:
        key = pseudo(cid)
        st = snapshot.get(key, NO_RECORD)
        d = engine.decide(DecisionRequest(
            brand_id=brand, purpose=SCORING_PURPOSE, jurisdiction=jurisdiction,
            consent=st.state, data_categories=frozenset(categories),
            subject=SubjectFacts(st.is_minor, st.guardian_consent)))
        if d.allowed and key in risk:
            out.append(Score(key, True, round(float(risk[key]), 4), d.rule_id, d.explanation))
        elif d.allowed:
            out.append(Score(key, False, None, "serving.no_history",
                             "no purchase before the scoring date; no individual score"))
        else:
            out.append(Score(key, False, None, d.rule_id,
                             f"no individual score (PIPL Art. 24): {d.explanation}"))
    with db.unit_of_work() as s:
        AuditLog(s).record("serving.churn_scored", actor=actor, brand_id=brand, data={
            "model_version": mv.version, "weights_sha256": mv.weights_sha256,
            "requested": len(ids), "scored": sum(x.personalized for x in out),
            "not_personalized": sum(not x.personalized for x in out),
            "as_of": cutoff.isoformat()})
    return out
