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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance.consent.state import SubjectConsent
from compliance.errors import InputError, NotFoundError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import Decision
from federation.brand.node import BrandNode
from federation.data.catalogue import load_catalogue
from federation.data.features import CHURN_FEATURES, churn_features, churn_table, feature_matrix
from federation.data.interactions import histories, interactions
from federation.data.ltv import with_ltv_feature
from federation.data.silo import SiloData
from federation.gate.prepare import GatedTables, gated_tables
from federation.gate.rules import decide_subject
from federation.models.churn import build_model, contributions, predict_proba, set_weights
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
    factors: tuple[str, ...] = ()  # with --explain: what moved the score most, in words

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        if not self.factors:
            del d["factors"]
        else:
            d["factors"] = list(self.factors)
        return d


@dataclass(frozen=True)
class Recommendation:
    subject: str
    personalized: bool
    items: list[str]
    rule_id: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class Served:
    """What one serving run produced, and the counts the coordinator's audit log keeps of it
    (`serving.churn_scored` / `serving.recommended`): no identifiers."""
    results: list[Any]
    summary: dict[str, Any] = field(default_factory=dict)


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
    snapshot: Mapping[str, SubjectConsent]
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

    def summary(self, release: ModelRelease, personalized: int, **extra: Any) -> dict[str, Any]:
        return {"model_version": release.version, "weights_sha256": release.weights_sha256,
                "requested": len(self.ids), "personalized": personalized,
                "not_personalized": len(self.ids) - personalized, **extra}


def _serving(silo: SiloData, engine: PolicyEngine, pseudo: Pseudonymizer,
             snapshot: Mapping[str, SubjectConsent], customers: list[str] | None) -> _Serving:
    """`customers` are the brand's own customer ids (all customers when None); unknown ids
    are refused before anything is computed. `snapshot` is the brand's consent snapshot for
    `SCORING_PURPOSE` now."""
    cmap = silo.column_map
    known = silo.customers[cmap.customers.key].astype(str)
    ids = [str(c) for c in (customers if customers is not None else known)]
    unknown = [c for c in ids if c not in set(known)]
    if unknown:
        raise NotFoundError(f"{len(unknown)} requested customers are not in the silo of "
                            f"'{cmap.brand_id}' (first: {pseudo(unknown[0])})")
    tables = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=SCORING_PURPOSE,
                          seed=0, pseudonym=pseudo)
    return _Serving(silo, engine, tables, snapshot, pseudo, ids)


FEATURE_WORDS = {
    "recency_days": "days since the last purchase", "frequency": "number of orders",
    "monetary": "total spent", "avg_amount": "average order value",
    "tenure_days": "days since the first purchase", "distinct_items": "distinct items bought",
    "orders_last_90d": "orders in the last 90 days",
    "orders_prev_90d": "orders in the 90 days before those", "mean_gap_days":
    "average days between orders", "age_years": "age in years",
    "ltv_log": "log of the predicted spend over the churn horizon",
}


def explain_row(raw: Mapping[str, float], contrib: np.ndarray, top: int,
                features: Sequence[str] = CHURN_FEATURES) -> tuple[str, ...]:
    """The `top` features that moved one score most, in words (PIPL Art. 24(3); GDPR
    Art. 22(3), 15(1)(h)): the feature, its value, and which way it pushed the risk."""
    order = np.argsort(-np.abs(contrib), kind="stable")[:top]
    return tuple(
        f"{FEATURE_WORDS[features[j]]} = {float(raw[features[j]]):g} "
        f"{'raised' if contrib[j] > 0 else 'lowered'} the churn risk "
        f"({float(contrib[j]):+.2f} on the log-odds)" for j in order)


def score_churn(silo: SiloData, engine: PolicyEngine, pseudo: Pseudonymizer,
                snapshot: Mapping[str, SubjectConsent], release: ModelRelease, *,
                customers: list[str] | None = None, as_of: date | None = None,
                explain: int = 0) -> Served:
    """`explain` > 0: each score comes with that many factors (`contributions`)."""
    _check_release(release, "churn")
    sv = _serving(silo, engine, pseudo, snapshot, customers)
    orders = sv.tables.orders
    if as_of is None and len(orders):
        as_of = pd.to_datetime(orders["ordered_at"]).max().date()
    cutoff = as_of or datetime.now(UTC).date()
    table = churn_table(orders, sv.tables.customers, cutoff=cutoff, horizon_days=1)
    ltv = bool(release.config.get("ltv_feature", False))  # the features the run trained on
    if ltv:
        table = with_ltv_feature(table, orders, cutoff=cutoff,
                                 horizon_days=int(release.config.get("horizon_days", 90)))
    features = churn_features(ltv)
    model = build_model(len(features), str(release.config.get("model_kind", "mlp")))
    set_weights(model, release.weights)
    x = feature_matrix(table, features)
    risk = dict(zip(table["customer_id"], predict_proba(model, x)[:, 1],
                    strict=True)) if len(table) else {}
    factors: dict[str, tuple[str, ...]] = {}
    if explain > 0 and len(table):
        rows = table[list(features)].to_dict("records")
        factors = {k: explain_row(r, c, explain, features) for k, r, c in zip(
            table["customer_id"], rows, contributions(model, x), strict=True)}
    out: list[Score] = []
    for key, d in sv.decisions():
        if d.allowed and key in risk:
            out.append(Score(key, True, round(float(risk[key]), 4), d.rule_id, d.explanation,
                             factors.get(key, ())))
        elif d.allowed:
            out.append(Score(key, False, None, "serving.no_history",
                             "no purchase before the scoring date; no individual score"))
        else:
            out.append(Score(key, False, None, d.rule_id,
                             f"no individual score (PIPL Art. 24): {d.explanation}"))
    return Served(out, sv.summary(release, sum(x.personalized for x in out),
                                  as_of=cutoff.isoformat()))


def recommend(silo: SiloData, engine: PolicyEngine, pseudo: Pseudonymizer,
              snapshot: Mapping[str, SubjectConsent], release: ModelRelease, *,
              catalogue: Path, customers: list[str] | None = None, k: int = 10) -> Served:
    """Top-k unseen items per customer, among those this brand sells. The brand folds its
    allowed customers' user vectors in against the latest shared item side (for a DP model,
    computes them from history) over the alliance `catalogue`."""
    if k < 1:
        raise InputError("k must be at least 1", column="k")
    _check_release(release, "recommend")
    config, final = release.config, release.final
    if config.get("recommender", "sequential") != "sequential":
        raise InputError(f"model version {release.version} is a co-occurrence recommender, "
                         "which serving does not score yet: release a sequential one",
                         column="model")
    # A model that did not beat its own non-personalized list on the brands' held-out items
    # would serve worse lists than no personalization: serve that list to everyone.
    beaten = float(final.get("hr10", 1.0)) <= float(final.get("hr10_nonpersonalized", -1.0))
    path = catalogue
    items = load_catalogue(path)
    weights = release.weights
    if len(items) != weights[0].shape[0]:
        raise InputError(f"catalogue has {len(items)} items, model version {release.version} has "
                         f"{weights[0].shape[0]}", file=str(path))
    names = np.asarray(sorted(items, key=items.__getitem__))
    sv = _serving(silo, engine, pseudo, snapshot, customers)
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
    return Served(out, sv.summary(release, sum(x.personalized for x in out), k=k))


def _report(node: BrandNode, release: ModelRelease, served: Served) -> None:
    keep = ("requested", "personalized", "not_personalized", "as_of", "k")
    with node.client() as client:
        client.report_serving(release.model, release.version,
                              {k: v for k, v in served.summary.items() if k in keep})


def serve_churn(node: BrandNode, *, customers: list[str] | None = None,
                as_of: date | None = None, explain: int = 0) -> list[Score]:
    """At the brand: the newest churn model it took part in (from the coordinator's API), its
    consent records synced, scores computed here, and the run's counts reported for the
    audit log."""
    policies = load_policies()
    snapshot = node.snapshot(SCORING_PURPOSE, datetime.now(UTC))
    with node.client() as client:
        release = client.latest_model("churn")
    served = score_churn(node.silo(policies), PolicyEngine(policies), node.pseudonymizer,
                         snapshot, release, customers=customers, as_of=as_of,
                         explain=explain)
    _report(node, release, served)
    return list(served.results)


def serve_recommendations(node: BrandNode, *, customers: list[str] | None = None,
                          k: int = 10, catalogue: Path | None = None) -> list[Recommendation]:
    """At the brand, as `serve_churn`, with the newest recommender over the alliance
    catalogue (the node's own copy unless another is given)."""
    policies = load_policies()
    snapshot = node.snapshot(SCORING_PURPOSE, datetime.now(UTC))
    with node.client() as client:
        release = client.latest_model("recommend")
    served = recommend(node.silo(policies), PolicyEngine(policies), node.pseudonymizer,
                       snapshot, release, catalogue=catalogue or node.config.catalogue,
                       customers=customers, k=k)
    _report(node, release, served)
    return list(served.results)
