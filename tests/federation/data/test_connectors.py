"""Connectors: bad rows located and counted, whole-file failures load nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from compliance.errors import InputError
from federation.data.connectors import load_customers, load_transactions, parse_times

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


def _yes_no(tmp_path: Path) -> Path:
    f = tmp_path / "c.csv"
    f.write_text("id,churn\n" + "".join(f"c{i},{'Yes' if i % 3 else 'No'}\n" for i in range(30)))
    return f


def test_text_labels_without_positive_name_the_labels_and_the_option(tmp_path: Path) -> None:
    f = _yes_no(tmp_path)
    with pytest.raises(InputError) as info:
        load_customers(str(f), id_col="id", label_col="churn")
    assert info.value.column == "churn" and info.value.file == str(f)
    assert "'No', 'Yes'" in info.value.message and "--positive" in info.value.message


def test_a_positive_label_that_never_occurs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'Maybe' .* never occurs .* 'No', 'Yes'"):
        load_customers(str(_yes_no(tmp_path)), id_col="id", label_col="churn",
                       positive="Maybe")


def test_labels_that_look_like_personal_data_are_counted_not_shown(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("id,phone\na,13812345678\nb,13912345678\n")
    with pytest.raises(InputError, match="2 distinct values, not shown") as info:
        load_customers(str(f), id_col="id", label_col="phone")
    assert "138" not in info.value.message


def test_a_time_format_that_fits_no_row_fails_at_the_first_row(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("user,when,item\nu1,2024-01-02,i1\nu2,2024-01-03,i2\n")
    with pytest.raises(InputError, match="unparseable when") as info:
        load_transactions(str(f), customer_col="user", time_col="when", item_col="item",
                          time_format="unix")
    assert (info.value.file, info.value.line, info.value.column) == (str(f), 2, "when")


# ---------------------------------------------------------------- numeric times (issue 20)

# 1990-01-01 .. 2100-01-01 in epoch seconds: every plausible transaction time.
EARLY, LATE = 631_152_000, 4_102_444_800


@settings(max_examples=200, deadline=None)
@given(seconds=st.lists(st.integers(EARLY, LATE), min_size=1, max_size=30),
       millis=st.booleans(), as_text=st.booleans())
def test_epoch_seconds_and_milliseconds_are_told_apart(seconds: list[int], millis: bool,
                                                       as_text: bool) -> None:
    """Whatever the unit and dtype (pandas 3 reads CSV columns as `str`), numeric times
    come back as the instants they encode."""
    raw = [s * 1000 + 7 if millis else s for s in seconds]
    values = pd.Series([str(v) for v in raw], dtype="str") if as_text else pd.Series(raw)
    when, how = parse_times(values, None)
    assert how == ("epoch milliseconds" if millis else "epoch seconds")
    expected = pd.to_datetime(pd.Series(raw), unit="ms" if millis else "s", utc=True)
    assert (when == expected).all()


def test_yyyymmdd_integers_are_dates_not_1970_epochs() -> None:
    when, how = parse_times(pd.Series(["20250101", "20251231"], dtype="str"), None)
    assert how == "%Y%m%d" and str(when.iloc[1].date()) == "2025-12-31"


def test_a_movielens_shaped_log_loads_without_a_time_format(tmp_path: Path) -> None:
    """userId,movieId,rating,timestamp with epoch seconds: every row loads (it loaded none
    before, all 'unparseable timestamp'), and the report says how the times were read."""
    f = tmp_path / "ratings.csv"
    f.write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n"
                 "2,6,4.0,964982224\n2,x,3.5,not-a-time\n")
    log, report = load_transactions(str(f), customer_col="userId", time_col="timestamp",
                                    item_col="movieId")
    assert report.rows_loaded == 3 and report.bad_rows == 1
    assert report.as_dict()["time_format"] == "epoch seconds"
    assert str(log["ordered_at"].iloc[0]) == "2000-07-30 18:45:03+00:00"
