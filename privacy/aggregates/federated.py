"""The same aggregate answered across brand silos: each brand computes a bounded local vector,
SecAgg+ sums the vectors, and noise is added once to the sum.

Pure: the brand side is `local_vector` over a frame the brand already holds; the coordinator
side is `release_sum` over the securely summed vector. Noise is calibrated by OpenDP
(`make_laplace` on an L1-bounded float vector, scale found by `binary_search_chain`).

Sensitivity (L1, one customer): at most `max_rows_per_unit` rows in each silo, and since the
same person may be a customer of every brand, in every silo (in one silo only when the brands
de-duplicated their linked customers first, `privacy.overlap.dedup`); each row moves one count
by 1 and one sum by at most max(|lower|, |upper|). SecAgg+ quantizes with stochastic rounding.
Counts are scaled so that one count is exactly one quantization step (exact, no rounding); a
sum can move by one more step per touched value, which is added to its sensitivity.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import opendp.prelude as dp
import polars as pl

from compliance.errors import InputError
from privacy.aggregates.plan import LEN_COLUMN, Calibrated, fill_value, filter_expr
from privacy.aggregates.schemas import AggregateQuery, DatasetSpec

QUANTIZATION_RANGE = 2**26
MODULUS_RANGE = 2**32
CLIPPING_RANGE = 1.0


@dataclass(frozen=True)
class FederatedPlan:
    query: AggregateQuery
    spec: DatasetSpec
    group_cols: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]

    @property
    def with_sum(self) -> bool:
        return self.query.measure in ("sum", "mean")

    @property
    def count_norm(self) -> float:
        """One count is one quantization step: integers survive SecAgg+ exactly."""
        return QUANTIZATION_RANGE / (2 * CLIPPING_RANGE)

    @property
    def sum_norm(self) -> float:
        lo, hi = self.spec.columns[self.query.column].bounds  # type: ignore[index, union-attr, misc]
        return float(self.spec.max_rows) * max(abs(lo), abs(hi))

    def to_json(self) -> str:
        return json.dumps({"query": self.query.model_dump(), "spec": self.spec.model_dump()})

    @staticmethod
    def from_json(text: str) -> FederatedPlan:
        body = json.loads(text)
        return federated_plan(AggregateQuery.model_validate(body["query"]),
                              DatasetSpec.model_validate(body["spec"]))


def federated_plan(query: AggregateQuery, spec: DatasetSpec) -> FederatedPlan:
    if not spec.silos:
        raise InputError(f"dataset '{spec.name}' has no brand silos (register with --silo)",
                         column="federated")
    if spec.max_rows > QUANTIZATION_RANGE // 2:
        raise InputError(f"across silos a dataset may declare at most {QUANTIZATION_RANGE // 2} "
                         "rows per silo (--max-rows)", column="federated")
    if query.measure not in ("count", "sum", "mean", "histogram"):
        raise InputError(f"measure '{query.measure}' is not available across silos "
                         "(count, sum, mean, histogram)", column="measure")
    group_cols = list(query.group_by)
    if query.measure == "histogram":
        assert query.column is not None
        group_cols.append(query.column)
    cats = [spec.columns[c].categories for c in group_cols]
    if any(c is None for c in cats):
        raise InputError("across silos every grouping column needs public categories "
                         "(private key selection would need each brand's keys)",
                         column="group_by")
    keys = tuple(itertools.product(*cats)) if group_cols else ((),)  # type: ignore[arg-type]
    return FederatedPlan(query=query, spec=spec, group_cols=tuple(group_cols), keys=keys)


def local_vector(frame: pl.DataFrame, plan: FederatedPlan) -> np.ndarray:
    """One brand's bounded counts (and clamped sums) per public key, scaled into [-1, 1]."""
    spec, query = plan.spec, plan.query
    df = frame
    if spec.max_rows_per_unit > 1:
        df = df.filter(pl.int_range(pl.len()).over(spec.unit_col) < spec.max_rows_per_unit)
    for f in query.filters:
        df = df.filter(filter_expr(f, spec.columns[f.column]))
    aggs = [pl.len().alias(LEN_COLUMN)]
    if plan.with_sum:
        assert query.column is not None
        col = spec.columns[query.column]
        lo, hi = col.bounds  # type: ignore[misc]
        aggs.append(pl.col(query.column).fill_null(fill_value(col)).clip(lo, hi).sum().alias("s"))
    if plan.group_cols:
        keys = pl.DataFrame(list(plan.keys), schema=list(plan.group_cols), orient="row")
        # Positions must line up across brands: keep the public key order exactly.
        got = keys.join(df.group_by(list(plan.group_cols)).agg(aggs), on=list(plan.group_cols),
                        how="left", maintain_order="left").fill_null(0)
    else:
        got = df.select(aggs)
    counts = got[LEN_COLUMN].cast(pl.Float64).to_numpy() / plan.count_norm
    if not plan.with_sum:
        return counts
    sums = got["s"].cast(pl.Float64).to_numpy() / plan.sum_norm
    return np.concatenate([counts, sums])


FLOAT_VECTOR = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float))


def calibrated_laplace(d_in: float, epsilon: float, space: tuple[Any, Any] = FLOAT_VECTOR
                       ) -> tuple[dp.Measurement, float]:
    """OpenDP's Laplace on `space` (a float vector by default; an int atom gives the discrete
    Laplace), its scale found by `binary_search_param` for sensitivity `d_in` and `epsilon`:
    the one calibration the aggregates and the overlap sizes share."""
    scale = dp.binary_search_param(lambda s: dp.m.make_laplace(*space, scale=s),
                                   d_in=d_in, d_out=epsilon)
    return dp.m.make_laplace(*space, scale=scale), float(scale)


def release_sum(summed: np.ndarray, plan: FederatedPlan, n_silos: int, *,
                why: str | None = None) -> tuple[Calibrated, pl.DataFrame]:
    """Noise once on the secure sum; returns what the local path returns, so the same
    post-processing (intervals, suppression) applies. `n_silos` is how many silos one person
    can be in: every silo that answered, or 1 for a de-duplicated query; each noise record
    says which, and `why`."""
    spec, query = plan.spec, plan.query
    k = spec.max_rows_per_unit
    reason = {"silos_per_person": n_silos,
              "why": why or f"a person may be a customer of each of the {n_silos} silos"}
    step = 2 * CLIPPING_RANGE / QUANTIZATION_RANGE
    g = len(plan.keys)
    eps = query.epsilon / (2 if plan.with_sum else 1)
    m_count, scale_c = calibrated_laplace(float(k * n_silos), eps)
    counts = np.asarray(m_count((summed[:g] * plan.count_norm).tolist()))
    noise: list[dict[str, Any]] = [{
        "statistic": LEN_COLUMN, "aggregate": "Frame Length", "mechanism": "Float Laplace",
        "scale": scale_c, "accuracy95": dp.laplacian_scale_to_accuracy(scale_c, 0.05),
        "sensitivity": float(k * n_silos), **reason}]
    data: dict[str, Any] = {c: [key[i] for key in plan.keys]
                            for i, c in enumerate(plan.group_cols)}
    data[LEN_COLUMN] = np.rint(counts).astype(np.int64)
    measurement = m_count
    if plan.with_sum:
        assert query.column is not None
        lo, hi = spec.columns[query.column].bounds  # type: ignore[misc]
        d_sum = k * n_silos * (max(abs(lo), abs(hi)) + step * plan.sum_norm)
        m_sum, scale_s = calibrated_laplace(d_sum, eps)
        data[query.column] = np.asarray(m_sum((summed[g:] * plan.sum_norm).tolist()))
        noise.append({"statistic": query.column, "aggregate": "Sum",
                      "mechanism": "Float Laplace", "scale": scale_s,
                      "accuracy95": dp.laplacian_scale_to_accuracy(scale_s, 0.05),
                      "sensitivity": d_sum, **reason})
    cal = Calibrated(measurement=measurement,
                     columns=tuple(data), noise=tuple(noise), keys="public", delta=0.0,
                     group_cols=plan.group_cols, threshold=None)
    return cal, pl.DataFrame(data)
