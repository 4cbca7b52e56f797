"""Connectors: bad rows located and counted, whole-file failures load nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine

from compliance.errors import InputError
from federation.data.connectors import load_customers, load_transactions

pytestmark = pytest.mark.unit


def test_customer_table_reports_bad_rows_by_line(tmp_path: Path) -> None:
    f = tmp_path / "customers.csv"
    f.write_text("id,plan,churn\nc1,basic,Yes\n,basic,No\nc3,pro,maybe\nc1,pro,No\nc5,pro,No\n")
    table, report = load_customers(str(f), id_col="id", label_col="churn", positive="Yes")
    assert list(table["customer_id"]) == ["c1", "c3", "c5"]
    assert list(table["label"]) == [1.0, 0.0, 0.0]
    assert (report.rows_read, report.rows_loaded, report.bad_rows) == (5, 3, 2)
    assert report.examples == [f"{f}:3: missing id", f"{f}:5: duplicate id"]


def test_numeric_label_must_be_zero_or_one(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("id,y\na,1\nb,2\nc,0\n")
    table, report = load_customers(str(f), id_col="id", label_col="y")
    assert list(table["label"]) == [1.0, 0.0]
    assert report.examples == [f"{f}:3: label y is not 0 or 1"]


def test_missing_column_and_missing_file_fail_whole(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("id,y\na,1\n")
    with pytest.raises(InputError, match="column 'churn' not found") as exc:
        load_customers(str(f), id_col="id", label_col="churn")
    assert exc.value.file == str(f)
    with pytest.raises(InputError, match="no such file"):
        load_customers(str(tmp_path / "nope.csv"), id_col="id", label_col="y")


def test_transactions_from_sql_with_unix_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    pd.DataFrame({"cust": ["a", "a", "b", "b"], "ts": [1_700_000_000, 1_700_086_400, "x",
                                                       1_700_000_000],
                  "sku": ["i1", "i2", "i1", None], "price": [3.5, 2.0, 1.0, 1.0]}
                 ).to_sql("orders", engine, index=False)
    engine.dispose()
    log, report = load_transactions(f"{url}#orders", customer_col="cust", time_col="ts",
                                    item_col="sku", amount_col="price", time_format="unix")
    assert list(log["customer_id"]) == ["a", "a"]
    assert str(log["ordered_at"].iloc[1]) == "2023-11-15 22:13:20+00:00"
    assert report.bad_rows == 2
    assert "row 3: unparseable ts (format unix)" in report.examples[1]
    with pytest.raises(InputError, match="plain table name"):
        load_transactions(f"{url}#orders; drop table x", customer_col="cust", time_col="ts",
                          item_col="sku")
