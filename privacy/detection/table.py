"""Column classification for tables: which columns hold which PII type.

Each column is sampled (seeded) and every sampled value is scanned with the column header
as context ("手机: 13812345678"), so header words help just as they do in free text. A
column is classified as the type that covers a value in at least `min_share` of samples.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from compliance.errors import InputError
from compliance.files import read_csv, require_existing
from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import Finding


@dataclass(frozen=True)
class ColumnFinding:
    column: str
    pii_type: str | None
    confidence: float
    sampled: int
    matched: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_columns(frame: pd.DataFrame, scanner: PiiScanner, *, sample: int = 200,
                     seed: int = 0, min_share: float = 0.5) -> list[ColumnFinding]:
    if sample < 1:
        raise ValueError("sample must be at least 1")
    out = []
    for col in frame.columns:
        values = frame[col].dropna().astype(str)
        values = values[values.str.strip() != ""]
        if len(values) > sample:
            values = values.sample(sample, random_state=seed)
        header = f"{col}: "
        counts: Counter[str] = Counter()
        missed = []
        for v, found in zip(values, scanner.scan_many([header + v for v in values]),
                            strict=True):
            t = _covering_type(found, len(header), v)
            if t is not None:
                counts[t] += 1
            elif _LOST_ZERO.fullmatch(v):
                missed.append("0" + v)
        # Landlines and other zero-led numbers stored as numbers lose their leading zero
        # (010… read back as 10…): such values get a second look with it restored.
        for v, found in zip(missed, scanner.scan_many([header + v for v in missed]),
                            strict=True):
            t = _covering_type(found, len(header), v)
            if t is not None:
                counts[t] += 1
        n = len(values)
        if counts and n:
            t, hits = counts.most_common(1)[0]
            share = hits / n
            out.append(ColumnFinding(str(col), t if share >= min_share else None,
                                     round(share, 3), n, hits))
        else:
            out.append(ColumnFinding(str(col), None, 0.0, n, 0))
    return out


_LOST_ZERO = re.compile(r"[1-9]\d{8,10}")


def _covering_type(found: list[Finding], offset: int, value: str) -> str | None:
    """The type whose findings cover at least 60% of the value, if any."""
    covered: Counter[str] = Counter()
    for f in found:
        if f.end > offset:
            covered[f.type] += min(f.end, offset + len(value)) - max(f.start, offset)
    if covered:
        t, n = covered.most_common(1)[0]
        if n >= 0.6 * len(value.strip()):
            return t
    return None


def read_table(path: Path | None = None, *, url: str | None = None, table: str | None = None,
               limit: int | None = 100_000) -> pd.DataFrame:
    """CSV, Parquet, or a SQL table (read-only, first `limit` rows; `None`: all). CSV is read
    strictly (`compliance.files.read_csv`: UTF-8, every row as wide as the header, quotes
    closed), every cell as text, empty cells as ""; a SQL source must already exist."""
    if url:
        if not table:
            raise InputError("--table is required with --url")
        return _read_sql(url, table, limit)
    if path is None:
        raise InputError("give a file or --url with --table")
    if path.suffix.lower() in (".parquet", ".pq"):
        if not path.is_file():
            raise InputError("no such file", file=str(path))
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read Parquet: {type(exc).__name__}",
                             file=str(path)) from None
        return frame if limit is None else frame.head(limit)
    header, rows = read_csv(path, limit=limit)
    return pd.DataFrame(rows, columns=header, dtype=str)


def _read_sql(url: str, table: str, limit: int | None) -> pd.DataFrame:
    from sqlalchemy import MetaData, Table, create_engine, select
    from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

    require_existing(url)  # a SQLite file that is not there would be created on connect
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise InputError(f"cannot use this database URL: {type(exc).__name__}",
                         column="url") from None
    try:
        with engine.connect() as conn:
            t = Table(table, MetaData(), autoload_with=conn)
            query = select(t) if limit is None else select(t).limit(limit)
            return pd.read_sql(query, conn)
    except NoSuchTableError:
        raise InputError(f"table '{table}' not found") from None
    except SQLAlchemyError as exc:
        raise InputError(f"cannot read table '{table}': {type(exc).__name__}") from None
    finally:
        engine.dispose()
