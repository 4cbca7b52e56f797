"""Brand-side preparation for one training run: gate, features, a seeded local split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from compliance.consent.state import SubjectConsent, snapshot_digest
from compliance.policy.engine import PolicyEngine
from federation.features import churn_table, feature_matrix
from federation.gate import GateResult, apply_gate, select_columns
from federation.silo import SiloData
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


def prepare_churn(silo: SiloData, *, snapshot: Mapping[str, SubjectConsent],
                  engine: PolicyEngine, purpose: str, cutoff: date, horizon_days: int,
                  seed: int, test_fraction: float = 0.2,
                  master_key: bytes | None = None) -> PreparedChurn:
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
    table = churn_table(orders.rename(columns={cmap.orders.key: "customer_id"}), customers,
                        cutoff=cutoff, horizon_days=horizon_days)
    x, y = feature_matrix(table), table["churned"].to_numpy(dtype=np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    used = {cmap.customers.columns[c] for c in gate.kept.columns if c != cmap.customers.key}
    used |= {cmap.orders.columns[c] for c in order_cols if c != cmap.orders.key}
    dropped = {**gate.dropped_columns, **{f"orders.{k}": v for k, v in order_dropped.items()}}
    gate = GateResult(**{**gate.__dict__, "dropped_columns": dropped})
    return PreparedChurn(cmap.brand_id, gate, snapshot_digest(snapshot), tuple(sorted(used)),
                         x[train], y[train], x[test], y[test])
