"""A brand's data silo on disk: its tables plus the column map that describes them.

Raw rows live here and only here; the ClientApp reads them in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from compliance.errors import InputError
from compliance.policy.loader import parse_policy_text
from compliance.policy.schemas import PolicySet
from federation.data.column_map import ColumnMap
from federation.data.synthetic import BrandSilo
from privacy.detection.table import read_table

COLUMN_MAP_FILE = "column_map.yaml"

SYNTHETIC_CUSTOMER_MAP = {
    "customer_id": "customer_id", "name": "name", "phone": "phone", "email": "email",
    "resident_id": "resident_id", "bank_card": "bank_card", "address": "delivery_address",
    "city": "city", "gender": "gender", "birth_date": "birth_date",
    "signup_date": "purchase_history",
}
SYNTHETIC_ORDER_MAP = {
    "customer_id": "customer_id", "order_id": "purchase_history",
    "ordered_at": "purchase_history", "item_id": "purchase_history",
    "amount": "purchase_history",
}


@dataclass(frozen=True)
class SiloData:
    column_map: ColumnMap
    customers: pd.DataFrame
    orders: pd.DataFrame


def load_column_map(path: Path, policies: PolicySet) -> ColumnMap:
    if not path.is_file():
        raise InputError("no column map here (a silo needs column_map.yaml)", file=str(path))
    cmap = parse_policy_text(path.read_text(encoding="utf-8"), ColumnMap, str(path))
    cmap.check(policies, str(path))
    return cmap


def write_silo(silo: BrandSilo, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    silo.customers.to_csv(directory / "customers.csv", index=False)
    silo.orders.to_csv(directory / "orders.csv", index=False)
    cmap = {
        "brand_id": silo.spec.brand_id,
        "jurisdiction": silo.spec.jurisdiction,
        "customers": {"file": "customers.csv", "key": "customer_id",
                      "columns": SYNTHETIC_CUSTOMER_MAP},
        "orders": {"file": "orders.csv", "key": "customer_id", "columns": SYNTHETIC_ORDER_MAP},
    }
    (directory / COLUMN_MAP_FILE).write_text(yaml.safe_dump(cmap, sort_keys=False),
                                             encoding="utf-8")
    return directory


def _read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    frame = read_table(path, limit=None)  # strict: a ragged row or open quote is refused
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"columns named in the column map are missing: {missing}",
                         file=str(path), line=1)
    return frame


def load_silo(directory: Path, policies: PolicySet) -> SiloData:
    cmap = load_column_map(directory / COLUMN_MAP_FILE, policies)
    customers = _read_table(directory / cmap.customers.file, list(cmap.customers.columns))
    orders = _read_table(directory / cmap.orders.file, list(cmap.orders.columns))
    if "amount" in orders.columns:
        amount = pd.to_numeric(orders["amount"], errors="coerce")
        bad = amount.isna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise InputError("amount is not a number", file=str(directory / cmap.orders.file),
                             line=line, column="amount")
        orders = orders.assign(amount=amount)
    return SiloData(cmap, customers, orders)
