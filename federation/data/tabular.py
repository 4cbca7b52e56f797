"""Encoding a customer table for the churn model, fitted federatedly.

Each brand summarises its own training rows (per numeric column: count, sum, sum of squares;
per categorical column: the set of values seen). Summaries are merged by the coordinator and
the one merged encoder is sent back, so every brand encodes identically without any row, or
any one brand's statistics, leaving the brand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NUMERIC_SHARE = 0.95
MAX_CATEGORIES = 50


@dataclass
class TableSummary:
    numeric: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    categorical: dict[str, set[str]] = field(default_factory=dict)

    def merge(self, other: TableSummary) -> TableSummary:
        num = dict(self.numeric)
        for col, (n, s, ss) in other.numeric.items():
            a = num.get(col, (0.0, 0.0, 0.0))
            num[col] = (a[0] + n, a[1] + s, a[2] + ss)
        cat = {c: set(v) for c, v in self.categorical.items()}
        for col, values in other.categorical.items():
            cat.setdefault(col, set()).update(values)
        return TableSummary(num, cat)


def _as_number(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col, errors="coerce")


def summarize(frame: pd.DataFrame, features: list[str]) -> TableSummary:
    """A column is numeric when almost all of its non-empty values parse as numbers."""
    out = TableSummary()
    for col in features:
        values = frame[col]
        num = _as_number(values)
        present = values.notna() & (values.astype(str).str.strip() != "")
        if present.sum() and num[present].notna().mean() >= NUMERIC_SHARE:
            v = num.dropna().to_numpy(dtype=np.float64)
            out.numeric[col] = (float(len(v)), float(v.sum()), float((v * v).sum()))
        else:
            out.categorical[col] = set(values.dropna().astype(str))
    return out


@dataclass(frozen=True)
class TabularEncoder:
    numeric: tuple[tuple[str, float, float], ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def fit(cls, summary: TableSummary) -> TabularEncoder:
        numeric = []
        for col, (n, s, ss) in sorted(summary.numeric.items()):
            mean = s / n if n else 0.0
            std = float(np.sqrt(max(ss / n - mean * mean, 0.0))) if n else 1.0
            numeric.append((col, mean, std or 1.0))
        # A column seen as numeric at one brand and categorical at another is categorical.
        cats = [(c, tuple(sorted(v))[:MAX_CATEGORIES]) for c, v in
                sorted(summary.categorical.items()) if c not in summary.numeric]
        return cls(tuple(numeric), tuple(cats))

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(v) for _, v in self.categorical)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Missing numbers become the mean (0 after scaling); unseen categories all-zero."""
        parts = []
        for col, mean, std in self.numeric:
            v = _as_number(frame[col]).fillna(mean).to_numpy(dtype=np.float64)
            parts.append(((v - mean) / std)[:, None])
        for col, values in self.categorical:
            s = frame[col].astype(str).to_numpy()
            parts.append((s[:, None] == np.asarray(values, dtype=object)[None, :])
                         .astype(np.float64))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)
