"""Serving at the brand with the latest federated models, under PIPL Art. 24.

A churn-risk score and a personalized recommendation list are automated decisions about a
person. They are made only for customers the policy engine allows for
`personalized_recommendation` (the purpose whose source is Art. 24), from the data categories
that purpose allows, so birth dates are not used. Anyone else gets no individual score, or the
non-personalized list (the shared model's item popularity, the same for everyone), and the
answer says so and why. Output carries pseudonyms only; one audit event per serving run
records the counts and the model version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.database import Database, utcnow
from compliance.errors import InputError, NotFoundError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import Decision
from federation.data.catalogue import CATALOGUE_FILE, load_catalogue
from federation.data.features import CHURN_FEATURES, churn_table, feature_matrix
from federation.data.interactions import histories, interactions
from federation.data.silo import SiloData, load_silo
from federation.gate.prepare import GatedTables, gated_tables
from federation.gate.rules import decide_subject
from federation.models.churn import build_model, predict_proba, set_weights
from federation.models.recommend import fold_in, user_scores
from federation.release import ModelRelease
from federation.settings import releases_item_statistics
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


@dataclass(frozen=True)
class Recommendation:
    subject: str
    personalized: bool
    items: list[str]
    rule_id: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _check_release(release: ModelRelease, model: str) -> None:
    if release.model != model:
        raise InputError(f"model version {release.version} is a {release.model} model, not "
                         f"{model}", column="model")


@dataclass(frozen=True)
class _Serving:
    """One brand's customers as serving sees them: gated for Art. 24, keyed by pseudonym."""
    data: SiloData
    engine: PolicyEngine
    tables: GatedTables
    snapshot: dict[str, Any]
    pseudo: Pseudonymizer
    ids: list[str]

    def decisions(self) -> Iterator[tuple[str, Decision]]:
        cmap = self.data.column_map
        categories = frozenset(cmap.orders.columns.values()) & set(
            self.engine.policies.purpose(SCORING_PURPOSE).allowed_categories)
        for cid in self.ids:
            key = self.pseudo(cid)
            yield key, decide_subject(self.engine, self.snapshot.get(key), brand_id=cmap.brand_id,
                                      purpose=SCORING_PURPOSE, jurisdiction=cmap.jurisdiction,
                                      categories=frozenset(categories))


def _serving(db: Database, silo: Path, customers: list[str] | None) -> _Serving:
    """`customers` are the brand's own customer ids (all customers when None); unknown ids
    are refused before anything is computed."""
    policies = load_policies()
    engine = PolicyEngine(policies)
    data = load_silo(silo, policies)
    cmap = data.column_map
    pseudo = Pseudonymizer.for_brand(cmap.brand_id)
    with db.reading() as s:
        snapshot = ConsentService(s).snapshot(cmap.brand_id, SCORING_PURPOSE, utcnow())
    known = data.customers[cmap.customers.key].astype(str)
    ids = [str(c) for c in (customers if customers is not None else known)]
    unknown = [c for c in ids if c not in set(known)]
    if unknown:
        raise NotFoundError(f"{len(unknown)} requested customers are not in the silo of "
                            f"'{cmap.brand_id}' (first: {pseudo(unknown[0])})")
    tables = gated_tables(data, snapshot=snapshot, engine=engine, purpose=SCORING_PURPOSE,
                          seed=0)
    return _Serving(data, engine, tables, dict(snapshot), pseudo, ids)


def _audit(db: Database, action: str, sv: _Serving, release: ModelRelease, actor: str,
           personalized: int, **extra: Any) -> None:
    with db.unit_of_work() as s:
        AuditLog(s).record(action, actor=actor, brand_id=sv.data.column_map.brand_id, data={
            "model_version": release.version, "weights_sha256": release.weights_sha256,
            "requested": len(sv.ids), "personalized": personalized,
            "not_personalized": len(sv.ids) - personalized, **extra})


def score_churn(db: Database, silo: Path, release: ModelRelease, *,
                customers: list[str] | None = None, as_of: date | None = None,
                actor: str = "brand") -> list[Score]:
    _check_release(release, "churn")
    sv = _serving(db, silo, customers)
    orders = sv.tables.orders
    if as_of is None and len(orders):
        as_of = pd.to_datetime(orders["ordered_at"]).max().date()
    cutoff = as_of or utcnow().date()
    table = churn_table(orders, sv.tables.customers, cutoff=cutoff, horizon_days=1)
    model = build_model(len(CHURN_FEATURES), str(release.config.get("model_kind", "mlp")))
    set_weights(model, release.weights)
    risk = dict(zip(table["customer_id"], predict_proba(model, feature_matrix(table))[:, 1],
                    strict=True)) if len(table) else {}
    out: list[Score] = []
    for key, d in sv.decisions():
        if d.allowed and key in risk:
            out.append(Score(key, True, round(float(risk[key]), 4), d.rule_id, d.explanation))
        elif d.allowed:
            out.append(Score(key, False, None, "serving.no_history",
                             "no purchase before the scoring date; no individual score"))
        else:
            out.append(Score(key, False, None, d.rule_id,
                             f"no individual score (PIPL Art. 24): {d.explanation}"))
    _audit(db, "serving.churn_scored", sv, release, actor, sum(x.personalized for x in out),
           as_of=cutoff.isoformat())
    return out


def recommend(db: Database, silo: Path, release: ModelRelease, *,
              customers: list[str] | None = None, k: int = 10, catalogue: Path | None = None,
              actor: str = "brand") -> list[Recommendation]:
    """Top-k unseen items per customer, among those this brand sells. The brand folds its
    allowed customers' user vectors in against the latest shared item side (for a DP model,
    computes them from history); the catalogue defaults to the one published beside the
    silos."""
    if k < 1:
        raise InputError("k must be at least 1", column="k")
    _check_release(release, "recommend")
    config, final = release.config, release.final
    # A model that did not beat its own non-personalized list on the brands' held-out items
    # would serve worse lists than no personalization: serve that list to everyone.
    beaten = float(final.get("hr10", 1.0)) <= float(final.get("hr10_nonpersonalized", -1.0))
    path = catalogue or silo.parent / CATALOGUE_FILE
    items = load_catalogue(path)
    weights = release.weights
    if len(items) != weights[0].shape[0]:
        raise InputError(f"catalogue has {len(items)} items, model version {release.version} has "
                         f"{weights[0].shape[0]}", file=str(path))
    names = np.asarray(sorted(items, key=items.__getitem__))
    sv = _serving(db, silo, customers)
    log, _ = interactions(sv.tables.orders, items)
    data, rows = histories(log, items)
    model = fold_in(weights, data, lr=float(config.get("learning_rate", 0.01)),
                    seed=int(config.get("seed", 0)),
                    fit_user_vectors=not releases_item_statistics(config))
    # Only what this brand sells (its own and the alliance's items, as its orders show).
    sold = np.zeros(len(items), dtype=bool)
    sold[[items[x] for x in set(sv.data.orders["item_id"].astype(str)) if x in items]] = True
    popular = names[np.argsort(np.where(sold, -weights[2][:, 0], np.inf),
                               kind="stable")[:min(k, int(sold.sum()))]].tolist()
    scores = user_scores(model, data)
    scores[:, ~sold] = -np.inf
    scores[data.train_u, data.train_i] = -np.inf
    out: list[Recommendation] = []
    for key, d in sv.decisions():
        row = rows.get(key)
        if d.allowed and beaten:
            out.append(Recommendation(key, False, popular, "serving.model_below_baseline",
                                      f"model version {release.version} did not beat the "
                                      "non-personalized list in federated evaluation"))
        elif d.allowed and row is not None:
            top = np.argsort(-scores[row], kind="stable")[:k]
            top = top[np.isfinite(scores[row, top])]
            out.append(Recommendation(key, True, names[top].tolist(), d.rule_id,
                                      d.explanation))
        elif d.allowed:
            out.append(Recommendation(key, False, popular, "serving.no_history",
                                      "no purchase history yet: the non-personalized list"))
        else:
            out.append(Recommendation(key, False, popular, d.rule_id,
                                      "non-personalized list, the same for every customer "
                                      f"(PIPL Art. 24): {d.explanation}"))
    _audit(db, "serving.recommended", sv, release, actor, sum(x.personalized for x in out),
           k=k)
    return out
