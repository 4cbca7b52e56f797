"""Brand-side preparation for one training run: gate, features, a seeded local split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from flwr.app import Context

from compliance.consent.service import ConsentService
from compliance.consent.state import SubjectConsent, snapshot_digest
from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from federation.catalogue import CATALOGUE_FILE, load_catalogue
from federation.features import churn_table, feature_matrix, segment_table
from federation.gate import GateResult, apply_gate, select_columns
from federation.recommend import RecData, leave_last_out
from federation.settings import RunSettings
from federation.silo import SiloData, load_silo
from privacy.detection.analyzer import PiiScanner
from privacy.detection.table import classify_columns
from privacy.pseudonym import Pseudonymizer


@dataclass(frozen=True)
class PreparedChurn:
    brand_id: str
    gate: GateResult
    snapshot_sha256: str
    categories: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def train_examples(self) -> int:
        return len(self.x_train)

    @property
    def test_examples(self) -> int:
        return len(self.x_test)


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
                 master_key: bytes | None = None) -> GatedTables:
    cmap = silo.column_map
    pseudo = Pseudonymizer.for_brand(cmap.brand_id, master_key)
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
                  seed: int, test_fraction: float = 0.2,
                  master_key: bytes | None = None) -> PreparedChurn:
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed,
                     master_key=master_key)
    table = churn_table(t.orders, t.customers, cutoff=cutoff, horizon_days=horizon_days)
    x, y = feature_matrix(table), table["churned"].to_numpy(dtype=np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return PreparedChurn(silo.column_map.brand_id, t.gate, snapshot_digest(snapshot),
                         t.categories, x[train], y[train], x[test], y[test])


def interactions(orders: pd.DataFrame, items: Mapping[str, int]) -> tuple[pd.DataFrame, int]:
    """Gated orders as an implicit-feedback log on the catalogue; rows with an item the
    catalogue lacks are left out and counted."""
    log = pd.DataFrame({"customer_id": orders["customer_id"],
                        "ordered_at": pd.to_datetime(orders["ordered_at"], utc=True),
                        "item_id": orders["item_id"].astype(str)})
    known = log["item_id"].isin(items.keys())
    return log[known], int((~known).sum())


def prepare_recommend(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                      engine: PolicyEngine, purpose: str, items: Mapping[str, int],
                      seed: int) -> PreparedRecommend:
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed)
    if "item_id" not in t.orders.columns:
        raise InputError(f"purpose '{purpose}' does not allow the orders' item column, "
                         "so there is nothing to recommend from",
                         file=silo.column_map.orders.file)
    log, unknown = interactions(t.orders, items)
    return PreparedRecommend(silo.column_map.brand_id, t.gate, snapshot_digest(snapshot),
                             t.categories, leave_last_out(log, dict(items)), unknown)


def prepare_segments(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                     engine: PolicyEngine, purpose: str, cutoff: date, horizon_days: int,
                     seed: int) -> pd.DataFrame:
    """The brand's customer segments for DP aggregates: pseudonym, RFM tier, churn status,
    spend; only customers the gate lets through for `purpose`."""
    t = gated_tables(silo, snapshot=snapshot, engine=engine, purpose=purpose, seed=seed)
    return segment_table(churn_table(t.orders, t.customers, cutoff=cutoff,
                                     horizon_days=horizon_days))


def brand_of(context: Context, brands: Sequence[str]) -> str:
    """Deployment: the SuperNode's `brand-id` node config. Simulation: partition index."""
    if "brand-id" in context.node_config:
        return str(context.node_config["brand-id"])
    return brands[int(context.node_config["partition-id"])]


def prepare_for_run(settings: RunSettings, brand_id: str) -> Prepared:
    """A brand's rows for one run, gated on the consent snapshot at the run's as-of time:
    what the ClientApp trains on, and what a later privacy audit must rebuild exactly."""
    policies = load_policies()
    db = Database(settings.database_url, migrate=False)
    try:
        with db.reading() as session:
            snapshot = ConsentService(session).snapshot(brand_id, settings.purpose,
                                                        settings.as_of)
    finally:
        db.dispose()
    silo = load_silo(Path(settings.silo_root) / brand_id, policies)
    if settings.model == "recommend":
        items = load_catalogue(Path(settings.silo_root) / CATALOGUE_FILE)
        if len(items) != settings.items:
            raise InputError(f"brand '{brand_id}' has a catalogue of {len(items)} items, the "
                             f"run expects {settings.items}",
                             file=str(Path(settings.silo_root) / CATALOGUE_FILE))
        return prepare_recommend(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                                 purpose=settings.purpose, items=items, seed=settings.seed)
    return prepare_churn(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                         purpose=settings.purpose, cutoff=date.fromisoformat(settings.cutoff),
                         horizon_days=settings.horizon_days, seed=settings.seed)
