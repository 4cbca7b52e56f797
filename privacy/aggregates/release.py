"""Run a calibrated measurement on a dataset and turn its noisy output into an answer.

Everything after the measurement is post-processing of released values and public scales, so
it costs no privacy: intervals, the mean as a ratio of two noisy statistics, and suppression of
groups whose noisy size is below the policy's minimum.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import numpy as np
import polars as pl

from privacy.aggregates.plan import LEN_COLUMN, Calibrated, frame_schema, scan_source
from privacy.aggregates.schemas import AggregateQuery, DatasetSpec, Group

MEAN_DRAWS = 4000


def scan(spec: DatasetSpec, query: AggregateQuery, source: str | None = None) -> pl.LazyFrame:
    """A lazy scan of the columns the query uses, cast to their declared types. A plan, not
    rows: OpenDP's Rust side reads the file itself, which is why a Parquet dataset answers in
    tens of milliseconds where an in-memory frame would first be serialized across the FFI."""
    lf = scan_source(source or spec.source, spec.format)
    return lf.select([pl.col(n).cast(t) for n, t in frame_schema(query, spec).items()])


def execute(cal: Calibrated, frame: pl.LazyFrame) -> pl.DataFrame:
    return cal.measurement(frame).collect()  # type: ignore[no-any-return]


def _scale(cal: Calibrated, statistic: str) -> float:
    return next(float(n["scale"]) for n in cal.noise if n["statistic"] == statistic)


def _accuracy(cal: Calibrated, statistic: str) -> float:
    return next(float(n["accuracy95"]) for n in cal.noise if n["statistic"] == statistic)


def mean_interval(total: float, count: float, scale_sum: float, scale_count: float,
                  bounds: tuple[float, float], rng: np.random.Generator) -> tuple[float, float]:
    """Parametric-bootstrap percentile interval for sum/count: re-noise the released pair
    with the released scales (Efron & Tibshirani 1993, ch. 13); clipped to the bounds, which
    a percentile interval respects near an edge where a reflected one would collapse."""
    lo, hi = bounds
    s = total + rng.laplace(0.0, scale_sum, MEAN_DRAWS)
    n = np.maximum(count + rng.laplace(0.0, scale_count, MEAN_DRAWS), 1.0)
    sims = np.clip(s / n, lo, hi)
    q_lo, q_hi = np.quantile(sims, [0.025, 0.975])
    return float(q_lo), float(q_hi)


def finish(raw: pl.DataFrame, cal: Calibrated, query: AggregateQuery, spec: DatasetSpec,
           min_group_size: int) -> tuple[list[Group], int]:
    """Groups in a stable order, and how many were suppressed."""
    rng = np.random.default_rng(secrets.randbits(64))
    if cal.group_cols:
        raw = raw.sort(list(cal.group_cols), nulls_last=True)
    groups: list[Group] = []
    suppressed = 0
    acc_len = _accuracy(cal, LEN_COLUMN)
    col = spec.columns[query.column] if query.column else None
    for row in raw.iter_rows(named=True):
        n = row[LEN_COLUMN]
        if n is None or n < min_group_size:
            suppressed += 1
            continue
        key: dict[str, Any] = {c: row[c] for c in cal.group_cols}
        value: float | int | None
        ci: tuple[float, float] | None
        if query.measure in ("count", "histogram"):
            value, ci = int(n), (n - acc_len, n + acc_len)
        elif query.measure == "sum":
            assert query.column is not None
            value = float(row[query.column])
            acc = _accuracy(cal, query.column)
            ci = (value - acc, value + acc)
        elif query.measure == "mean":
            assert query.column is not None and col is not None and col.bounds is not None
            total = float(row[query.column])
            lo, hi = col.bounds
            value = min(max(total / max(n, 1), lo), hi)
            ci = mean_interval(total, float(n), _scale(cal, query.column),
                               _scale(cal, LEN_COLUMN), (lo, hi), rng)
        else:
            assert query.column is not None
            value, ci = float(row[query.column]), None
        if ci is not None and not all(math.isfinite(x) for x in ci):
            ci = None
        groups.append(Group(key=key, value=value, ci95=ci))
    return groups, suppressed
