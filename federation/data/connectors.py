"""Brand data connectors: CSV, Parquet and SQL tables in two shapes.

A customer table (one row per customer, a label column, every other column a feature) or a
transaction log (customer, time, item, optional amount). Rows that cannot be used are
counted and reported by file and line, never silently dropped; a file that cannot be read,
or lacks a named column, fails as a whole so that nothing half-loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from compliance.errors import InputError
from privacy.detection.table import read_table

MAX_EXAMPLES = 5
MAX_LABELS_SHOWN = 10


@dataclass
class LoadReport:
    source: str
    rows_read: int = 0
    rows_loaded: int = 0
    bad_rows: int = 0
    examples: list[str] = field(default_factory=list)
    first_bad: tuple[int, str | None, str] | None = None  # row index, column, reason
    time_format: str | None = None  # how a transaction log's times were read

    def reject(self, mask: pd.Series, frame: pd.DataFrame, reason: str,
               column: str | None = None) -> None:
        """Count rows in `mask` as bad; keep a few located examples (no values: they may be
        personal data)."""
        bad = frame.index[mask.to_numpy()]
        self.bad_rows += len(bad)
        for i in bad[:max(0, MAX_EXAMPLES - len(self.examples))]:
            self.examples.append(f"{self.source}:{_line(self.source, int(i))}: {reason}")
        if len(bad) and (self.first_bad is None or int(bad[0]) < self.first_bad[0]):
            self.first_bad = (int(bad[0]), column, reason)

    def require_rows(self) -> None:
        """A source with no usable row fails at its first bad row (file, line, column): an
        empty result would only fail later, further from the cause."""
        if self.rows_loaded:
            return
        if self.first_bad is None:
            raise InputError("no rows to load", file=self.source)
        index, column, reason = self.first_bad
        csv = self.source.lower().endswith(".csv")
        raise InputError(f"no usable row: all {self.bad_rows} are bad, the first"
                         + ("" if csv else f" (row {index + 1})") + f" for '{reason}'",
                         file=self.source, line=index + 2 if csv else None, column=column)

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "rows_read": self.rows_read,
                "rows_loaded": self.rows_loaded, "bad_rows": self.bad_rows,
                "examples": self.examples,
                **({"time_format": self.time_format} if self.time_format else {})}


def _line(source: str, index: int) -> str:
    """CSV: the physical line (header is line 1); other sources: the row number."""
    return str(index + 2) if source.lower().endswith(".csv") else f"row {index + 1}"


def read_frame(source: str) -> pd.DataFrame:
    """`path.csv`, `path.parquet`, or `<sqlalchemy-url>#<table>` for a SQL table; every row.
    Empty CSV cells become missing values."""
    if "://" in source:
        url, _, table = source.partition("#")
        if not table.isidentifier():
            raise InputError(f"SQL source needs '#<table>' with a plain table name, "
                             f"got '{table}'", file=url)
        return read_table(url=url, table=table, limit=None)
    return read_table(Path(source), limit=None).replace({"": None})


def _require(frame: pd.DataFrame, source: str, *cols: str | None) -> None:
    for col in cols:
        if col is not None and col not in frame.columns:
            raise InputError(f"column '{col}' not found (columns: "
                             f"{', '.join(map(str, frame.columns[:20]))})", file=source)


def _shown(values: pd.Series) -> str:
    """The distinct labels, when they look like labels (few, each repeated); otherwise only
    how many (a wrongly chosen column may hold personal data)."""
    distinct = sorted(set(values))
    if len(distinct) <= MAX_LABELS_SHOWN and len(values) >= 3 * len(distinct):
        return "values " + ", ".join(f"'{v[:20]}'" for v in distinct)
    return f"{len(distinct)} distinct values, not shown"


def _check_labels(labels: pd.Series, source: str, label_col: str, positive: str | None
                  ) -> None:
    """Refuse a label column that cannot give 0/1 before any row is used: text labels with
    no `positive` value named, or a `positive` value that never occurs."""
    if positive is not None:
        if not (labels == positive).any():
            raise InputError(f"positive label '{positive}' (--positive) never occurs in "
                             f"column '{label_col}' (it has {_shown(labels)})", file=source,
                             column=label_col)
        return
    numeric = pd.to_numeric(labels, errors="coerce")
    if len(labels) and not numeric.isin([0, 1]).any():
        raise InputError(f"label column '{label_col}' is not 0/1 (it has {_shown(labels)}): "
                         "name the value that means positive with --positive VALUE",
                         file=source, column=label_col)


def load_customers(source: str, *, id_col: str, label_col: str,
                   positive: str | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Rows with a missing id or label, or a duplicated id, are bad rows. The label becomes
    0/1: `positive` names the positive value, else the label must already be 0/1."""
    frame = read_frame(source)
    _require(frame, source, id_col, label_col)
    report = LoadReport(source, rows_read=len(frame))
    frame = frame.reset_index(drop=True)
    raw = frame[label_col].astype(str).str.strip()
    _check_labels(raw[frame[label_col].notna()], source, label_col, positive)
    if positive is not None:
        label = (raw == positive).astype("float32").where(frame[label_col].notna())
    else:
        label = pd.to_numeric(raw, errors="coerce").where(lambda v: v.isin([0, 1]))
    missing_id = frame[id_col].isna() | (frame[id_col].astype(str).str.strip() == "")
    report.reject(missing_id, frame, f"missing {id_col}", id_col)
    bad_label = label.isna() & ~missing_id
    report.reject(bad_label, frame, f"label {label_col} is not "
                  + (f"a value (positive is '{positive}')" if positive else "0 or 1"),
                  label_col)
    dup = frame[id_col].duplicated(keep="first") & ~missing_id & ~bad_label
    report.reject(dup, frame, f"duplicate {id_col}", id_col)
    keep = ~(missing_id | bad_label | dup)
    out = frame[keep].drop(columns=[label_col]).rename(columns={id_col: "customer_id"})
    out["label"] = label[keep].astype("float32")
    report.rows_loaded = len(out)
    report.require_rows()
    return out.reset_index(drop=True), report


# Epoch units by magnitude: the first bound a time's absolute value stays under. 1e11 s is
# the year 5138 and 1e11 ms is March 1973, so any real transaction time since 1973 reads
# one way only, whatever its unit.
EPOCH_UNITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"), (float("inf"), "ns"))
UNIT_NAMES = {"s": "epoch seconds", "ms": "epoch milliseconds", "us": "epoch microseconds",
              "ns": "epoch nanoseconds"}


def epoch_unit(values: pd.Series) -> str:
    """The epoch unit of numeric times, from their median magnitude (`EPOCH_UNITS`)."""
    magnitude = float(values.abs().median()) if len(values) else 0.0
    return next(unit for bound, unit in EPOCH_UNITS if magnitude < bound)


def parse_times(values: pd.Series, time_format: str | None) -> tuple[pd.Series, str]:
    """UTC times (NaT where a value cannot be read) and how they were read. Without a
    format, a column whose present values are mostly numbers holds numeric times: eight-digit
    integers that are all calendar dates are YYYYMMDD (as epoch seconds they would all fall in
    August 1970), anything else is an epoch in the unit its magnitude implies. Works on any
    dtype (pandas 3 reads a CSV column as `str`, older pandas as object or int)."""
    if pd.api.types.is_datetime64_any_dtype(values):  # a Parquet or SQL source's own times
        return pd.to_datetime(values, utc=True), "native"
    if time_format not in (None, "unix"):
        return pd.to_datetime(values.astype("string"), format=time_format, utc=True,
                              errors="coerce"), time_format
    numeric = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    numeric = numeric.astype("float64")
    present = values.notna()
    if time_format is None and not (numeric.notna() & present).sum() * 2 > present.sum():
        return pd.to_datetime(values.astype("string"), utc=True, errors="coerce"), "iso"
    known = numeric.dropna()
    if (time_format is None and len(known) and (known % 1 == 0).all()
            and known.between(1e7, 1e8 - 1).all()):
        dates = pd.to_datetime(known.astype("int64").astype(str), format="%Y%m%d", utc=True,
                               errors="coerce")
        if dates.notna().all():
            return dates.reindex(values.index), "%Y%m%d"
    unit = "s" if time_format == "unix" else epoch_unit(known)
    return (pd.to_datetime(numeric, unit=unit, utc=True, errors="coerce"),  # type: ignore[call-overload]
            UNIT_NAMES[unit])


def load_transactions(source: str, *, customer_col: str, time_col: str, item_col: str,
                      amount_col: str | None = None, time_format: str | None = None
                      ) -> tuple[pd.DataFrame, LoadReport]:
    """Normalised to customer_id, ordered_at (UTC), item_id, amount. `time_format` is a
    strftime pattern, or `unix` for epoch seconds; without it numeric times are read as
    epoch seconds, milliseconds, microseconds or nanoseconds (`parse_times`) and text as
    ISO dates. The reading chosen is in the report (`time_format`)."""
    frame = read_frame(source).reset_index(drop=True)
    _require(frame, source, customer_col, time_col, item_col, amount_col)
    report = LoadReport(source, rows_read=len(frame))
    when, report.time_format = parse_times(frame[time_col], time_format)
    amount = (pd.to_numeric(frame[amount_col], errors="coerce") if amount_col
              else pd.Series(1.0, index=frame.index))
    missing = frame[customer_col].isna() | frame[item_col].isna()
    report.reject(missing, frame, f"missing {customer_col} or {item_col}",
                  customer_col if frame[customer_col].isna().any() else item_col)
    bad_time = when.isna() & ~missing
    report.reject(bad_time, frame, f"unparseable {time_col}"
                  + (f" (format {time_format})" if time_format else ""), time_col)
    bad_amount = (amount.isna() | (amount < 0)) & ~missing & ~bad_time
    report.reject(bad_amount, frame, f"{amount_col} is not a non-negative number",
                  amount_col)
    keep = ~(missing | bad_time | bad_amount)
    out = pd.DataFrame({"customer_id": frame.loc[keep, customer_col].astype(str),
                        "ordered_at": when[keep], "item_id": frame.loc[keep, item_col]
                        .astype(str), "amount": amount[keep].astype("float64")})
    report.rows_loaded = len(out)
    report.require_rows()
    return out.reset_index(drop=True), report
