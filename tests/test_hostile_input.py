"""Injection attempts in column maps, table names and aggregate queries are refused or
treated as plain data; nothing outside a silo is read, nothing is executed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest
import yaml

from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.loader import load_policies
from federation.data.silo import load_column_map
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService
from privacy.detection.table import read_table

GOOD = {"brand_id": "lumen-tea", "jurisdiction": "pipl",
        "customers": {"file": "customers.csv", "key": "customer_id",
                      "columns": {"customer_id": "customer_id", "city": "city"}},
        "orders": {"file": "orders.csv", "key": "customer_id",
                   "columns": {"customer_id": "customer_id"}}}


def _map(tmp_path: Path, **changes: object) -> Path:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    path = tmp_path / "column_map.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.unit
@pytest.mark.parametrize(("change", "field"), [
    ({"customers__file": "../../etc/passwd"}, "customers.file"),
    ({"customers__file": "/etc/passwd"}, "customers.file"),
    ({"customers__columns": {"customer_id": "customer_id", "x'; DROP TABLE t; --": "city"}},
     "customers.columns"),
    ({"customers__key": "id\"<script>"}, "customers.key"),
    ({"brand_id": "../other-brand"}, "brand_id"),
])
def test_hostile_column_maps_fail_at_load_with_file_and_line(
        tmp_path: Path, change: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as info:
        load_column_map(_map(tmp_path, **change), load_policies())
    assert "column_map.yaml:" in str(info.value) and field in str(info.value)


@pytest.mark.unit
def test_chinese_column_names_are_still_names(tmp_path: Path) -> None:
    cmap = load_column_map(_map(tmp_path, customers__columns={
        "customer_id": "customer_id", "城市": "city"}), load_policies())
    assert "城市" in cmap.customers.columns


@pytest.mark.integration
def test_table_name_injection_reads_nothing_and_drops_nothing(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        con.execute("INSERT INTO orders VALUES (1, 9.5)")
    for name in ("orders; DROP TABLE orders", "orders --", "x' OR '1'='1"):
        with pytest.raises(InputError, match="not found"):
            read_table(url=f"sqlite:///{db}", table=name)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (1,)


@pytest.mark.integration
def test_aggregate_filters_are_data_not_code(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "c.parquet"
    pl.DataFrame({"cid": [f"c{i}" for i in range(500)], "city": ["Beijing"] * 500}
                 ).write_parquet(path)
    svc = AggregateService(db, load_policies())
    svc.register("c", path, "cid", actor="test", categories={"city": ["Beijing"]})
    with pytest.raises(InputError, match="unknown column"):
        svc.query("service:x", AggregateQuery.model_validate(
            {"dataset": "c", "measure": "count", "epsilon": 1.0,
             "filters": [{"column": "city) OR (1=1", "op": "eq", "value": "x"}]}))
    ans = svc.query("service:x", AggregateQuery.model_validate(
        {"dataset": "c", "measure": "count", "epsilon": 1.0,
         "filters": [{"column": "city", "op": "eq", "value": "x' OR '1'='1"}]}))
    assert ans.suppressed == 1 and ans.groups == []  # matched no row, not every row
