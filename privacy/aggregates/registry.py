"""Registered datasets: where the rows live, which column is one customer, and the public
metadata (bounds, categories, row bounds) that DP calibration may use.

Bounds and categories come only from the registrar; the data is read for its schema and for
one integrity check (a one-row-per-customer dataset really has one row per customer), never to
infer anything a release depends on.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import utcnow
from compliance.errors import ComityError, InputError, NotFoundError
from compliance.files import check_csv
from compliance.policy.schemas import PolicySet
from privacy.aggregates.models import DpDataset
from privacy.aggregates.plan import scan_source
from privacy.aggregates.schemas import ColumnSpec, DatasetSpec

DEFAULT_MAX_ROWS = 10_000_000  # float-sum noise grows with this bound (OpenDP, arXiv 2207.10635)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError("expected a .csv or .parquet file", file=str(path))


def _dtype(dtype: pl.DataType) -> str | None:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "str"
    return None


def read_schema(path: Path, fmt: str) -> dict[str, str | None]:
    """Column types as Polars infers them. A CSV is first read strictly through
    (`compliance.files.check_csv`): Polars would take a ragged row or an open quote, or stop
    at a byte that is not UTF-8 without saying where."""
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    if fmt == "csv":
        check_csv(path)
    try:
        schema = scan_source(str(path), fmt).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read the {fmt} schema: {exc}", file=str(path)) from None
    return {name: _dtype(dtype) for name, dtype in schema.items()}


def count_rows(path: str, fmt: str, unit_col: str) -> tuple[int, int]:
    """Rows, and rows that repeat a customer of an earlier row (0 for one row per unit)."""
    lf = scan_source(path, fmt).select(pl.col(unit_col))
    row = lf.select(pl.len().alias("n"), pl.col(unit_col).n_unique().alias("u")).collect()
    return int(row["n"][0]), int(row["n"][0] - row["u"][0])


def check_rows(path: str, fmt: str, unit_col: str, max_rows_per_unit: int, max_rows: int
               ) -> str | None:
    """Why the file breaks the public row bounds DP calibration relies on, or None."""
    rows, dupes = count_rows(path, fmt, unit_col)
    if rows > max_rows:
        return f"{rows} rows, more than the declared maximum {max_rows} (--max-rows)"
    if max_rows_per_unit == 1 and dupes:
        return (f"{dupes} rows repeat a value of '{unit_col}'; pass --max-rows-per-unit K "
                "to bound each customer to K rows")
    return None


class SourceCheck:
    """Re-checks a source only when its size or modification time changed."""

    def __init__(self) -> None:
        self._ok: set[tuple[str, int, int, str, int]] = set()
        self._lock = threading.Lock()

    def ensure(self, spec: DatasetSpec, source: str | None = None) -> None:
        path = source or spec.source
        try:
            st = os.stat(path)
        except OSError:
            raise ComityError(f"dataset '{spec.name}': its source file is missing",
                              status_code=409) from None
        key = (path, st.st_size, st.st_mtime_ns, spec.unit_col, spec.max_rows_per_unit)
        with self._lock:
            if key in self._ok:
                return
        try:
            problem = check_rows(path, spec.format, spec.unit_col, spec.max_rows_per_unit,
                                 spec.max_rows)
        except pl.exceptions.PolarsError as exc:
            raise ComityError(f"dataset '{spec.name}': its source no longer matches the "
                              f"registration ({type(exc).__name__})", status_code=409) from None
        if problem:
            raise ComityError(f"dataset '{spec.name}' changed since registration: {problem}",
                              status_code=409)
        with self._lock:
            self._ok.add(key)


def spec_of(row: DpDataset) -> DatasetSpec:
    return DatasetSpec(
        name=row.name, source=row.source, format=row.format,  # type: ignore[arg-type]
        unit_col=row.unit_col, max_rows_per_unit=row.max_rows_per_unit, max_rows=row.max_rows,
        jurisdiction=row.jurisdiction,
        columns={k: ColumnSpec(**v) for k, v in row.columns.items()},
        silos=dict(row.silos), version=row.version)


class Registry:
    def __init__(self, session: Session, policies: PolicySet) -> None:
        self.session = session
        self.policies = policies

    def _row(self, name: str) -> DpDataset | None:
        return self.session.execute(
            select(DpDataset).where(DpDataset.name == name)).scalar_one_or_none()

    def get(self, name: str) -> tuple[int, DatasetSpec]:
        row = self._row(name)
        if row is None:
            raise NotFoundError("no dataset of that name (field dataset)")
        return row.id, spec_of(row)

    def register(self, name: str, file: Path | None, unit_col: str, *, actor: str,
                 bounds: dict[str, tuple[float, float]] | None = None,
                 categories: dict[str, list[str]] | None = None,
                 data_categories: dict[str, str] | None = None,
                 max_rows_per_unit: int = 1, max_rows: int = DEFAULT_MAX_ROWS,
                 jurisdiction: str = "pipl", silos: dict[str, Path] | None = None
                 ) -> DatasetSpec:
        """Register (or re-register, bumping the version) a dataset; audited."""
        if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
            raise InputError("dataset names are letters, digits, '-' and '_' (at most 64)",
                             column="name")
        if jurisdiction not in self.policies.jurisdictions:
            raise InputError(f"unknown jurisdiction '{jurisdiction}'", column="jurisdiction")
        if max_rows_per_unit < 1 or max_rows < 1:
            raise InputError("row bounds must be positive", column="max_rows_per_unit")
        if file is None and not silos:
            raise InputError("give the dataset's file, or its brand silos", column="file")
        reference = file or sorted((silos or {}).items())[0][1]
        fmt = _format_of(reference)
        schema = read_schema(reference, fmt)
        if unit_col not in schema:
            raise InputError(f"unit column '{unit_col}' not in the file", file=str(reference))
        columns: dict[str, dict[str, object]] = {
            c: {"dtype": t} for c, t in schema.items() if t is not None and c != unit_col}
        for col, (lo, hi) in (bounds or {}).items():
            if col not in columns or columns[col]["dtype"] not in ("int", "float"):
                raise InputError(f"bounds given for '{col}', which is not a numeric column",
                                 column=col)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InputError(f"bounds for '{col}' must be finite with lower < upper",
                                 column=col)
            columns[col]["bounds"] = (float(lo), float(hi))
        for col, cats in (categories or {}).items():
            if col not in columns or columns[col]["dtype"] != "str":
                raise InputError(f"categories given for '{col}', which is not a text column",
                                 column=col)
            if not cats or len(set(cats)) != len(cats):
                raise InputError(f"categories for '{col}' must be non-empty and distinct",
                                 column=col)
            columns[col]["categories"] = tuple(cats)
        for col, cat in (data_categories or {}).items():
            if col not in columns:
                raise InputError(f"data category given for unknown column '{col}'", column=col)
            if cat not in self.policies.categories:
                raise InputError(f"unknown data category '{cat}' for '{col}'", column=col)
            columns[col]["data_category"] = cat
        silo_paths: dict[str, str] = {}
        for brand, path in (silos or {}).items():
            if _format_of(path) != fmt or read_schema(path, fmt) != schema:
                raise InputError(f"silo of brand '{brand}' does not have the dataset's schema",
                                 file=str(path))
            silo_paths[brand] = str(path.resolve())
        for source in [*([str(file)] if file else []), *silo_paths.values()]:
            problem = check_rows(source, fmt, unit_col, max_rows_per_unit, max_rows)
            if problem:
                raise InputError(problem, file=source)
        row = self._row(name)
        version = 1 if row is None else row.version + 1
        if row is None:
            row = DpDataset(name=name)
            self.session.add(row)
        row.source = str(file.resolve()) if file else ""
        row.format, row.unit_col = fmt, unit_col
        row.max_rows_per_unit, row.max_rows, row.jurisdiction = max_rows_per_unit, max_rows, \
            jurisdiction
        row.columns, row.silos, row.version = columns, silo_paths, version
        row.registered_by, row.registered_at = actor, utcnow()
        self.session.flush()
        spec = spec_of(row)
        AuditLog(self.session).record("dataset.register", actor=actor, data={
            "dataset": name, "version": version, "format": fmt,
            "source_sha256": hashlib.sha256(row.source.encode()).hexdigest() if file else None,
            "unit_col": unit_col, "max_rows_per_unit": max_rows_per_unit,
            "columns": {c: {"dtype": s.dtype, "bounds": s.bounds is not None,
                            "categories": len(s.categories or ()),
                            "data_category": s.data_category}
                        for c, s in spec.columns.items()},
            "silos": sorted(silo_paths)})
        return spec
