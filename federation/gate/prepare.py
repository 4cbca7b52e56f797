"""A brand's rows for one purpose, through the gate: gated tables, then churn examples with
a seeded local split, interactions for the recommender, or the segments DP aggregates ask
about. Runs at the brand (and where a privacy audit must rebuild exactly what a run used);
data frames in, arrays out, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from compliance.consent.state import SubjectConsent, snapshot_digest
from compliance.errors import InputError
from compliance.policy.engine import PolicyEngine
from federation.data.features import churn_features, churn_table, feature_matrix, segment_table
from federation.data.interactions import interactions, leave_last_out
from federation.data.ltv import with_ltv_band, with_ltv_feature
from federation.data.silo import SiloData
from federation.gate.rules import GateResult, apply_gate, select_columns
from federation.models.churn import ChurnData
from federation.models.recommend import RecData
from privacy.detection.analyzer import PiiScanner
from privacy.detection.table import classify_columns
from privacy.pseudonym import Pseudonymizer


@dataclass(frozen=True)
class PreparedChurn:
    brand_id: str
    gate: GateResult
    snapshot_sha256: str
    categories: tuple[str, ...]
    data: ChurnData

    @property
    def train_examples(self) -> int:
        return self.data.train_examples

    @property
    def test_examples(self) -> int:
        return self.data.test_examples


@dataclass(frozen=True)
class PreparedRecommend:
    """A brand's interactions for the shared item model: one example per customer (the
    privacy unit), each customer's last item held out for federated evaluation."""
    brand_id: str
    gate: GateResult
    snapshot_sha256: str
    categories: tuple[str, ...]
    data: RecData
    unknown_items: int  # order rows whose item is not in the alliance catalogue

    @property
    def train_examples(self) -> int:
        return self.data.n_users

    @property
    def test_examples(self) -> int:
        return self.data.n_users


Prepared = PreparedChurn | PreparedRecommend


@dataclass(frozen=True)
class GatedTables:
    """A brand's rows after the privacy gate, keyed by pseudonym, for one purpose."""

    gate: GateResult
    customers: pd.DataFrame
    orders: pd.DataFrame
    categories: tuple[str, ...]


def gated_tables(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                 engine: PolicyEngine, purpose: str, seed: int,
                 pseudonym: Pseudonymizer) -> GatedTables:
    """`pseudonym` is the brand's own keyed pseudonymizer: rows leave the gate keyed by it."""
    cmap = silo.column_map
    pseudo = pseudonym
    candidates = [c for c in cmap.customers.columns if c != cmap.customers.key
                  and not engine.policies.categories[cmap.customers.columns[c]].identifying]
    detected = {c.column: c.pii_type for c in classify_columns(
        silo.customers[candidates], PiiScanner(), sample=100, seed=seed) if c.pii_type}
    gate = apply_gate(silo.customers, cmap.customers, snapshot=snapshot, pseudonym=pseudo,
                      engine=engine, brand_id=cmap.brand_id, purpose=purpose,
                      jurisdiction=cmap.jurisdiction, detected=detected)
    order_cols, order_dropped = select_columns(cmap.orders, engine, purpose)
    orders = silo.orders.assign(**{cmap.orders.key: silo.orders[cmap.orders.key].map(pseudo)})
    orders = orders.loc[orders[cmap.orders.key].isin(gate.kept_keys), order_cols]
    customers = gate.kept.rename(columns={cmap.customers.key: "customer_id"})
    used = {cmap.customers.columns[c] for c in gate.kept.columns if c != cmap.customers.key}
    used |= {cmap.orders.columns[c] for c in order_cols if c != cmap.orders.key}
    dropped = {**gate.dropped_columns, **{f"orders.{k}": v for k, v in order_dropped.items()}}
    gate = GateResult(**{**gate.__dict__, "dropped_columns": dropped})
    return GatedTables(gate, customers, orders.rename(columns={cmap.orders.key: "customer_id"}),
                       tuple(sorted(used)))


def prepare_churn(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                  engine: PolicyEngine, purpose: str, cutoff: date, horizon_days: int,
                  seed: int, pseudonym: Pseudonymizer,
                  test_fraction: float = 0.2, ltv_feature: bool = False) -> PreparedChurn:
    """`ltv_feature`: add `ltv_log`, the BG/NBD + Gamma-Gamma spend predicted over the
    horizon, fitted here on the brand's gated orders up to the cutoff (no label leakage; a
    brand with too few repeat buyers to fit gets 0 for all). It exists only in this brand's
    feature matrix: what leaves is the model update trained on it."""
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed,
                     pseudonym=pseudonym)
    table = churn_table(t.orders, t.customers, cutoff=cutoff, horizon_days=horizon_days)
    if ltv_feature:
        table = with_ltv_feature(table, t.orders, cutoff=cutoff, horizon_days=horizon_days)
    x = feature_matrix(table, churn_features(ltv_feature))
    y = table["churned"].to_numpy(dtype=np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return PreparedChurn(silo.column_map.brand_id, t.gate, snapshot_digest(snapshot),
                         t.categories, ChurnData(x[train], y[train], x[test], y[test]))


def prepare_recommend(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                      engine: PolicyEngine, purpose: str, items: Mapping[str, int],
                      seed: int, pseudonym: Pseudonymizer) -> PreparedRecommend:
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed,
                     pseudonym=pseudonym)
    if "item_id" not in t.orders.columns:
        raise InputError(f"purpose '{purpose}' does not allow the orders' item column, "
                         "so there is nothing to recommend from",
                         file=silo.column_map.orders.file)
    log, unknown = interactions(t.orders, items)
    return PreparedRecommend(silo.column_map.brand_id, t.gate, snapshot_digest(snapshot),
                             t.categories, leave_last_out(log, dict(items)), unknown)


def prepare_segments(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                     engine: PolicyEngine, purpose: str, cutoff: date, horizon_days: int,
                     seed: int, pseudonym: Pseudonymizer) -> pd.DataFrame:
    """The brand's customer segments for DP aggregates: pseudonym, RFM tier, churn status,
    LTV band (BG/NBD + Gamma-Gamma fitted at the brand), spend; only customers the gate lets
    through for `purpose`."""
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed,
                     pseudonym=pseudonym)
    seg = segment_table(churn_table(t.orders, t.customers, cutoff=cutoff,
                                    horizon_days=horizon_days))
    return with_ltv_band(seg, t.orders, cutoff=cutoff, horizon_days=horizon_days)
