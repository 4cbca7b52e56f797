"""Query validation names the field; calibration is cached per shape; intervals hold."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from compliance.errors import InputError
from compliance.policy.loader import load_policies
from privacy.aggregates.plan import CalibrationCache, calibrate, validate
from privacy.aggregates.release import finish, mean_interval
from privacy.aggregates.schemas import AggregateQuery, ColumnSpec, DatasetSpec

from .conftest import CITIES, customers_frame

SPEC = DatasetSpec(
    name="customers", source="unused.parquet", format="parquet", unit_col="cid",
    max_rows_per_unit=1, max_rows=100_000, jurisdiction="pipl",
    columns={"city": ColumnSpec(dtype="str", categories=tuple(CITIES), data_category="city"),
             "tier": ColumnSpec(dtype="str"),
             "spend": ColumnSpec(dtype="float", bounds=(0.0, 1000.0)),
             "orders": ColumnSpec(dtype="int", bounds=(0, 40))})
POLICY = load_policies().aggregates


def q(**kw: object) -> AggregateQuery:
    return AggregateQuery.model_validate({"dataset": "customers", "epsilon": 0.5, **kw})


@pytest.mark.unit
@pytest.mark.parametrize(("query", "field", "words"), [
    (q(measure="mean", column="nope"), "column", "unknown column (known: "),
    (q(measure="sum", column="cid"), "column", "privacy-unit column"),
    (q(measure="mean", column="tier"), "column", "numeric bounds"),
    (q(measure="mean"), "column", "needs a column"),
    (q(measure="count", group_by=["spend"]), "group_by[0]", "continuous"),
    (q(measure="count", group_by=["city", "city"]), "group_by", "twice"),
    (q(measure="count", filters=[{"column": "orders", "op": "eq", "value": "x"}]),
     "filters[0].value", "does not match"),
    (q(measure="count", filters=[{"column": "city", "op": "in", "value": "Beijing"}]),
     "filters[0].value", "takes a list"),
    (q(measure="count", filters=[{"column": "city", "op": "lt", "value": "B"}]),
     "filters[0].op", "numeric"),
    (q(measure="count", epsilon=5.0), "epsilon", "per-query maximum"),
])
def test_invalid_queries_name_the_field(query: AggregateQuery, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        validate(query, SPEC, POLICY)
    assert info.value.column == field
    assert words in info.value.message


@pytest.mark.unit
def test_raw_sql_and_unknown_fields_are_not_a_query() -> None:
    with pytest.raises(ValueError, match="sql"):
        AggregateQuery.model_validate({"dataset": "d", "measure": "count", "epsilon": 1,
                                       "sql": "select * from t"})


@pytest.mark.unit
def test_calibration_is_cached_per_shape_and_fresh_noise_per_release() -> None:
    cache = CalibrationCache()
    query = q(measure="mean", column="spend", group_by=["city"])
    first = cache.get(query, SPEC, POLICY.query_delta)
    assert cache.get(query, SPEC, POLICY.query_delta) is first
    assert cache.get(q(measure="mean", column="spend", group_by=["city"], epsilon=0.25),
                     SPEC, POLICY.query_delta) is not first
    assert (cache.hits, cache.misses) == (1, 2)
    frame = customers_frame(2000).lazy().select("city", "spend", "cid")
    a = first.measurement(frame).collect().sort("city")
    b = first.measurement(frame).collect().sort("city")
    assert a["city"].to_list() == sorted(CITIES)
    assert a["len"].to_list() != b["len"].to_list() or a["spend"].to_list() != b["spend"].to_list()


@pytest.mark.unit
def test_small_groups_are_suppressed() -> None:
    query = q(measure="count", group_by=["city"], epsilon=1.0)
    cal = calibrate(query, SPEC, POLICY.query_delta)
    frame = customers_frame(2000).filter(pl.col("city") != "Chengdu")
    frame = pl.concat([frame, customers_frame(3, seed=9).with_columns(city=pl.lit("Chengdu"))])
    raw = cal.measurement(frame.lazy().select("city", "cid")).collect()
    groups, suppressed = finish(raw, cal, query, SPEC, min_group_size=20)
    assert suppressed == 1
    assert {g.key["city"] for g in groups} == {"Beijing", "Shanghai"}


@pytest.mark.unit
def test_repeated_units_are_truncated_inside_the_measurement() -> None:
    spec = SPEC.model_copy(update={"max_rows_per_unit": 2})
    query = q(measure="count", epsilon=1.0)
    cal = calibrate(query, spec, POLICY.query_delta)
    frame = pl.DataFrame({"cid": ["a"] * 500 + [f"u{i}" for i in range(500)]})
    counts = [cal.measurement(frame.lazy()).collect()["len"][0] for _ in range(20)]
    assert abs(float(np.mean(counts)) - 502) < 10  # 'a' counts twice, not 500 times


@pytest.mark.unit
def test_count_and_mean_intervals_cover_95_percent() -> None:
    """Over many releases the reported 95% interval holds the true value about 95% of the
    time: the noise matches the stated scale."""
    query = q(measure="mean", column="spend", epsilon=0.2)
    cal = calibrate(query, SPEC, POLICY.query_delta)
    df = customers_frame(400, seed=3)
    frame = df.lazy().select("spend", "cid")
    true_n, true_mean = df.height, float(df["spend"].clip(0, 1000).mean())  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    hits_n = hits_mean = 0
    runs = 1500
    acc_len = next(n["accuracy95"] for n in cal.noise if n["statistic"] == "len")
    scales = {n["statistic"]: n["scale"] for n in cal.noise}
    for _ in range(runs):
        row = cal.measurement(frame).collect().row(0, named=True)
        hits_n += abs(row["len"] - true_n) <= acc_len
        lo, hi = mean_interval(row["spend"], row["len"], scales["spend"], scales["len"],
                               (0.0, 1000.0), rng)
        hits_mean += lo <= true_mean <= hi
    assert 0.93 <= hits_n / runs <= 0.985
    assert 0.92 <= hits_mean / runs <= 0.98
