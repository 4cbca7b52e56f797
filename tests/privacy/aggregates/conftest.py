from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from compliance.database import Database
from compliance.policy.loader import load_policies
from privacy.aggregates.service import AggregateService

CITIES = ["Beijing", "Shanghai", "Chengdu"]


def customers_frame(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "cid": [f"c{i:06d}" for i in range(n)],
        "city": rng.choice(CITIES, n),
        "tier": rng.choice(["high", "active", "dormant"], n),
        "spend": rng.gamma(2.0, 100.0, n),
        "orders": rng.integers(0, 40, n),
    })


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.parquet"
    customers_frame(3000).write_parquet(path)
    return path


@pytest.fixture
def service(db: Database, customers: Path) -> AggregateService:
    svc = AggregateService(db, load_policies())
    svc.register("customers", customers, "cid", actor="test",
                 bounds={"spend": (0.0, 1000.0), "orders": (0, 40)},
                 categories={"city": CITIES}, data_categories={"city": "city"})
    return svc
