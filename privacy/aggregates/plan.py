"""From a JSON query and a dataset's public metadata to a calibrated OpenDP measurement.

Pure: no files, no database. A measurement depends only on public metadata (schema, bounds,
categories, row bounds) and the query's shape and epsilon, never on the data, so it can be
calibrated once and invoked again on fresh data: each invocation draws fresh noise and is paid
for separately in the ledger. OpenDP's Polars front end spends about a second searching for the
noise scale of every release (`LazyFrameQuery.resolve`); `CalibrationCache` keeps that result
per query shape.

Contribution bounding (Wilson et al., "Differentially Private SQL with Bounded User
Contribution", PETS 2020): a dataset with one row per customer is the privacy unit directly;
otherwise rows are truncated per customer to `max_rows_per_unit` inside the measurement.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp
import polars as pl

from compliance.errors import InputError
from compliance.policy.schemas import AggregatesPolicy
from privacy.aggregates.schemas import AggregateQuery, ColumnSpec, DatasetSpec, Filter

dp.enable_features("contrib")

POLARS_TYPES: dict[str, pl.DataType] = {"int": pl.Int64(), "float": pl.Float64(),
                                        "str": pl.String(), "bool": pl.Boolean()}
MAX_PUBLIC_KEYS = 10_000
QUANTILE_CANDIDATES = 101
BIN_COLUMN = "bin"
LEN_COLUMN = "len"


@dataclass(frozen=True)
class Calibrated:
    measurement: dp.Measurement
    columns: tuple[str, ...]
    noise: tuple[dict[str, Any], ...]
    keys: str
    delta: float
    group_cols: tuple[str, ...]
    threshold: int | None


def _fail(field: str, message: str) -> InputError:
    return InputError(message, column=field)


def _column(spec: DatasetSpec, name: str, field: str) -> ColumnSpec:
    if name == spec.unit_col:
        raise _fail(field, f"'{name}' is the privacy-unit column; it cannot be queried")
    try:
        return spec.columns[name]
    except KeyError:
        known = ", ".join(sorted(spec.columns))
        raise _fail(field, f"unknown column (known: {known})") from None


def _typed(value: Any, col: ColumnSpec, field: str) -> Any:
    ok = {"int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, int | float) and not isinstance(value, bool),
          "str": isinstance(value, str), "bool": isinstance(value, bool)}[col.dtype]
    if not ok:
        raise _fail(field, f"the value does not match the column type {col.dtype}")
    return float(value) if col.dtype == "float" else value


def validate(query: AggregateQuery, spec: DatasetSpec, policy: AggregatesPolicy) -> None:
    """Every problem is named by its field, so a 4xx tells the caller what to fix."""
    if query.epsilon > policy.max_query_epsilon:
        raise _fail("epsilon", f"epsilon {query.epsilon:g} exceeds the per-query maximum "
                               f"{policy.max_query_epsilon:g} (policies/aggregates.yaml)")
    if query.measure == "count":
        if query.column is not None:
            _column(spec, query.column, "column")
    else:
        if query.column is None:
            raise _fail("column", f"measure '{query.measure}' needs a column")
        col = _column(spec, query.column, "column")
        if query.measure in ("sum", "mean", "quantile"):
            if col.dtype not in ("int", "float") or col.bounds is None:
                raise _fail("column", f"'{query.column}' needs numeric bounds, declared at "
                                      f"registration, for measure '{query.measure}'")
        elif col.categories is None and col.bounds is None:
            raise _fail("column", f"'{query.column}' has neither categories nor bounds; "
                                  "a histogram needs one of them")
    if len(set(query.group_by)) != len(query.group_by):
        raise _fail("group_by", "a column is listed twice")
    for i, name in enumerate(query.group_by):
        col = _column(spec, name, f"group_by[{i}]")
        if col.dtype == "float":
            raise _fail(f"group_by[{i}]", f"'{name}' is continuous; group by a categorical "
                                          "column or ask for a histogram")
        if query.measure == "histogram" and name == query.column:
            raise _fail(f"group_by[{i}]", "the histogram column is already a grouping key")
    for i, f in enumerate(query.filters):
        col = _column(spec, f.column, f"filters[{i}].column")
        values = f.value if isinstance(f.value, list) else [f.value]
        if (f.op == "in") != isinstance(f.value, list):
            raise _fail(f"filters[{i}].value", "'in' takes a list; other operators one value")
        if f.op == "in" and not 1 <= len(values) <= 100:
            raise _fail(f"filters[{i}].value", "'in' takes 1 to 100 values")
        if f.op in ("lt", "le", "gt", "ge") and col.dtype not in ("int", "float"):
            raise _fail(f"filters[{i}].op", f"'{f.op}' needs a numeric column")
        for v in values:
            _typed(v, col, f"filters[{i}].value")


def shape_key(query: AggregateQuery, spec: DatasetSpec, delta: float) -> str:
    """What the measurement depends on; the purpose is not part of it."""
    shape = query.model_dump(exclude={"purpose"})
    body = {"dataset": spec.model_dump(exclude={"silos"}), "query": shape, "delta": delta}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def filter_expr(f: Filter, col: ColumnSpec) -> pl.Expr:
    c = pl.col(f.column)
    if f.op == "in":
        return c.is_in([_typed(v, col, "value") for v in f.value])  # type: ignore[union-attr]
    v = _typed(f.value, col, "value")
    return {"eq": c == v, "ne": c != v, "lt": c < v, "le": c <= v, "gt": c > v,
            "ge": c >= v}[f.op]


def used_columns(query: AggregateQuery, spec: DatasetSpec) -> list[str]:
    names = [*query.group_by, *(f.column for f in query.filters)]
    if query.column:
        names.append(query.column)
    names.append(spec.unit_col)  # also keeps the row count when no other column is used
    return list(dict.fromkeys(names))


def scan_source(path: str, fmt: str) -> pl.LazyFrame:
    """A lazy scan, not rows: OpenDP's Rust side reads the file itself."""
    return pl.scan_parquet(path) if fmt == "parquet" else pl.scan_csv(path)


def frame_schema(query: AggregateQuery, spec: DatasetSpec) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {}
    for name in used_columns(query, spec):
        dtype = "str" if name == spec.unit_col else spec.columns[name].dtype
        schema[name] = POLARS_TYPES[dtype]
    return schema


def _bounds(col: ColumnSpec) -> tuple[Any, Any]:
    assert col.bounds is not None
    lo, hi = col.bounds
    return (int(lo), int(hi)) if col.dtype == "int" else (float(lo), float(hi))


def fill_value(col: ColumnSpec) -> Any:
    """What a missing value counts as: zero, clamped into the column's bounds."""
    lo, hi = _bounds(col)
    zero = 0 if col.dtype == "int" else 0.0
    return min(max(zero, lo), hi)


def _edges(col: ColumnSpec, bins: int) -> list[float]:
    lo, hi = (float(b) for b in col.bounds)  # type: ignore[union-attr]
    return [lo + (hi - lo) * i / bins for i in range(1, bins)]


def _public_keys(query: AggregateQuery, spec: DatasetSpec) -> pl.DataFrame | None:
    group_cols = list(query.group_by)
    if query.measure == "histogram":
        assert query.column is not None
        if spec.columns[query.column].categories is None:
            return None
        group_cols.append(query.column)
    cats = [spec.columns[c].categories for c in group_cols]
    if not group_cols or any(c is None for c in cats):
        return None
    combos = 1
    for c in cats:
        combos *= len(c)  # type: ignore[arg-type]
    if combos > MAX_PUBLIC_KEYS:
        raise _fail("group_by", f"{combos} public key combinations; at most {MAX_PUBLIC_KEYS}")
    rows = list(itertools.product(*cats))  # type: ignore[arg-type]
    schema = {c: POLARS_TYPES[spec.columns[c].dtype] for c in group_cols}
    return pl.DataFrame(rows, schema=schema, orient="row")


def calibrate(query: AggregateQuery, spec: DatasetSpec, delta: float) -> Calibrated:
    """Build the OpenDP measurement for this query; a second or so, so cache the result."""
    keys = _public_keys(query, spec)
    group_cols = list(query.group_by)
    prep: list[pl.Expr] = []
    col = spec.columns[query.column] if query.column else None
    if query.measure == "histogram":
        assert col is not None and query.column is not None
        if col.categories is None:
            prep.append(pl.col(query.column).cut(_edges(col, query.bins)).cast(pl.String)
                        .alias(BIN_COLUMN))
            group_cols.append(BIN_COLUMN)
        else:
            group_cols.append(query.column)
    private = keys is None and bool(group_cols)
    loss = dp.loss_of(epsilon=query.epsilon, delta=delta if private else 0.0)
    unit = (dp.unit_of(contributions=1) if spec.max_rows_per_unit == 1
            else dp.unit_of(contributions=1, identifier=spec.unit_col))
    margins = [dp.polars.Margin(by=[], max_length=spec.max_rows)]
    if group_cols and BIN_COLUMN not in group_cols:
        margins.append(dp.polars.Margin(by=group_cols, max_length=spec.max_rows,
                                        max_groups=len(keys) if keys is not None else None))
    dummy = pl.LazyFrame(schema=frame_schema(query, spec))
    ctx = dp.Context.compositor(data=dummy, privacy_unit=unit, privacy_loss=loss,
                                split_evenly_over=1, margins=margins)
    q: Any = ctx.query()
    if spec.max_rows_per_unit > 1:
        q = q.truncate_per_group(spec.max_rows_per_unit, keep="first")
        if group_cols:
            q = q.truncate_num_groups(spec.max_rows_per_unit, by=group_cols, keep="first")
    for f in query.filters:
        q = q.filter(filter_expr(f, spec.columns[f.column]))
    if prep:
        q = q.with_columns(*prep)
    aggs: list[Any] = [dp.len(signed=True)]
    if query.measure in ("sum", "mean", "quantile"):
        assert col is not None and query.column is not None
        value: Any = pl.col(query.column).fill_null(fill_value(col))
        if query.measure == "quantile":
            lo, hi = (float(b) for b in col.bounds)  # type: ignore[union-attr]
            cands = [lo + (hi - lo) * i / (QUANTILE_CANDIDATES - 1)
                     for i in range(QUANTILE_CANDIDATES)]
            if col.dtype == "int":
                cands = sorted({round(c) for c in cands})
            aggs.append(value.dp.quantile(query.quantile, candidates=cands))
        else:
            aggs.append(value.dp.sum(_bounds(col)))
    if group_cols:
        q = q.group_by(*group_cols).agg(*aggs)
        if keys is not None:
            q = q.with_keys(keys)
    else:
        q = q.select(*aggs)
    try:
        measurement = q.resolve()
    except dp.OpenDPException as exc:
        raise InputError(f"OpenDP cannot release this query: {exc.message}") from None
    summary = dp.summarize_polars_measurement(measurement, 0.05)
    noise = tuple(
        {"statistic": r["column"], "aggregate": r["aggregate"],
         "mechanism": r["distribution"], "scale": r["scale"], "accuracy95": r["accuracy"]}
        for r in summary.to_dicts())
    threshold = summary["threshold"].max() if "threshold" in summary.columns else None
    out_cols = [*group_cols, LEN_COLUMN] + ([query.column] if query.column and len(aggs) > 1
                                            else [])
    return Calibrated(measurement=measurement, columns=tuple(out_cols), noise=noise,
                      keys="private" if private else "public", delta=delta if private else 0.0,
                      group_cols=tuple(group_cols),
                      threshold=int(threshold) if threshold is not None else None)


class CalibrationCache:
    """LRU of calibrated measurements per query shape, shared by all requests of a process."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[str, Calibrated] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, query: AggregateQuery, spec: DatasetSpec, delta: float) -> Calibrated:
        key = shape_key(query, spec, delta)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:  # one calibration per shape even under concurrent first requests
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]
            cal = calibrate(query, spec, delta)
            with self._lock:
                self.misses += 1
                self._items[key] = cal
                self._building.pop(key, None)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return cal
