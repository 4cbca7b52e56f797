"""Row anchors: every row of a table that decisions are made from is bound to the audit
event that recorded its last change, by a digest of the row as stored.

The chain proves that the audit log was not edited; anchors extend that to the tables
themselves. A consent event turned from withdraw into grant, a ledger whose spend was
lowered, a model version swapped, an inserted token or a deleted request all leave a row
whose digest differs from (or is missing in) the log, and `AuditLog.verify` names table and
row (PIPL Art. 54, GDPR Art. 5(2) and 30: records that show what was done can be trusted).

How rows get anchored, without each write path restating it:
- ORM changes are collected after every flush (`after_flush`);
- Core writes name the rows they changed with `touch(session, table, ids)`;
- bulk writes name their (integer-keyed) rows with `touch_bulk`: their digests travel in one
  compact `anchor_rows` entry (id ranges and 16 bytes of digest per row) instead of a
  `[table, id, digest]` triple each, so a batch of thousands costs one small entry (issue 24);
- the next `AuditLog.record` in the transaction carries the digests of all pending rows,
  and whatever is still pending at commit gets one `audit.anchors` event of its own.

A digest covers the row's non-null columns as the database returns them (so adding a
nullable column keeps old anchors valid); digests are per backend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session, UOWTransaction

from compliance.canonical import canonical_json

ANCHORED_TABLES: tuple[str, ...] = (
    "consent_events", "subject_requests", "privacy_budgets", "budget_ledgers", "dp_releases",
    "training_runs", "training_run_brands", "training_rounds", "model_versions", "api_tokens",
    "principals",
    "impact_assessments", "transfer_mechanisms", "cross_border_transfers", "incidents",
    "experiments", "pii_reveals", "overlap_runs", "audit_subjects",
)
TEXT_IDS = frozenset({"training_runs", "subject_requests", "impact_assessments",
                      "incidents"})  # uuid keys; the rest are integers
_PENDING = "comity_anchors_pending"
_BULK = "comity_anchors_bulk"
_DIGEST_HEX = 32  # 16 bytes of each row's SHA-256, as AnchorIndex compares them
_DELETED = "0" * _DIGEST_HEX
_BATCH = 500


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_digest(row: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the row's non-null columns."""
    body = {k: _norm(v) for k, v in sorted(row.items()) if v is not None}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


_PLAIN = frozenset({str, int, float, bool})  # values `_norm` keeps as they are
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)  # canonical_json's encoder, built once


def _row_digests(columns: Sequence[str], rows: Iterable[Sequence[Any]]
                 ) -> Iterator[tuple[Any, str]]:
    """(id, `row_digest`) of raw rows in `columns` order: the same digest, without a
    mapping per row or a `_norm` call per plain value (a bulk write digests thousands)."""
    order = sorted(range(len(columns)), key=columns.__getitem__)
    named = [(columns[j], j) for j in order]
    at_id = list(columns).index("id")
    encode, sha = _CANONICAL.encode, hashlib.sha256
    for r in rows:
        body = {name: v if type(v) in _PLAIN else _norm(v)
                for name, j in named if (v := r[j]) is not None}
        yield r[at_id], sha(encode(body).encode()).hexdigest()


def _rows(session: Session, table: str, ids: list[str] | None) -> Iterator[dict[str, Any]]:
    """Rows as the database returns them (raw SQL: the same path at write and at verify)."""
    if ids is None:
        last: Any = None
        while True:
            where = "" if last is None else "WHERE id > :last "
            batch = session.execute(text(f"SELECT * FROM {table} {where}ORDER BY id LIMIT :n"),
                                    {"last": last, "n": 10 * _BATCH}).mappings().all()
            if not batch:
                return
            yield from (dict(r) for r in batch)
            last = batch[-1]["id"]
    for i in range(0, len(ids), _BATCH):
        chunk = ids[i:i + _BATCH]
        params = {f"i{j}": v if table in TEXT_IDS else int(v) for j, v in enumerate(chunk)}
        marks = ", ".join(f":i{j}" for j in range(len(chunk)))
        stmt = text(f"SELECT * FROM {table} WHERE id IN ({marks})")
        yield from (dict(r) for r in session.execute(stmt, params).mappings())


def _table_digests(session: Session, table: str) -> Iterator[tuple[Any, str]]:
    """(id, `row_digest`) of every row of a table, a page at a time, from plain rows (no
    mapping per row): `verify` digests every anchored row."""
    last: Any = None
    while True:
        where = "" if last is None else "WHERE id > :last "
        result = session.execute(text(f"SELECT * FROM {table} {where}ORDER BY id LIMIT :n"),
                                 {"last": last, "n": 10 * _BATCH})
        rows = result.all()
        if not rows:
            return
        yield from _row_digests(list(result.keys()), rows)
        last = rows[-1][list(result.keys()).index("id")]


def touch(session: Session, table: str, ids: Iterable[object]) -> None:
    """Name rows a Core statement inserted, updated or deleted in this transaction."""
    if table not in ANCHORED_TABLES:
        raise ValueError(f"{table} is not an anchored table")
    pending: set[tuple[str, str]] = session.info.setdefault(_PENDING, set())
    pending.update((table, str(i)) for i in ids)


def take(session: Session) -> list[list[str | None]]:
    """Digests of every pending row, as `[table, id, digest]` (digest None: deleted), and
    clear them: the caller writes them into an audit event of this transaction."""
    pending: set[tuple[str, str]] = session.info.pop(_PENDING, set())
    if not pending:
        return []
    by_table: dict[str, list[str]] = {}
    for table, rid in sorted(pending):
        by_table.setdefault(table, []).append(rid)
    out: list[list[str | None]] = []
    for table, ids in by_table.items():
        found = {str(r["id"]): row_digest(r) for r in _rows(session, table, ids)}
        out.extend([table, rid, found.get(rid)] for rid in ids)
    return out


def touch_bulk(session: Session, table: str, ids: Iterable[int]) -> None:
    """Name many rows of an integer-keyed table that a bulk write inserted or changed in
    this transaction; `take_bulk` digests them into one compact entry."""
    if table not in ANCHORED_TABLES or table in TEXT_IDS:
        raise ValueError(f"{table} is not an anchored table with integer ids")
    bulk: dict[str, set[int]] = session.info.setdefault(_BULK, {})
    bulk.setdefault(table, set()).update(int(i) for i in ids)


def _ranges(ids: list[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive ids."""
    out: list[list[int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def take_bulk(session: Session) -> dict[str, dict[str, Any]]:
    """The rows named by `touch_bulk`, per table as `{"ranges": [[first, last], ...],
    "digests": hex, "sha256": hex}`: 32 hex digits of each row's digest in id order (zeros
    for a row deleted since), and a SHA-256 over them, the batch's digest as evidence. Read
    back by id range, one statement per run of ids."""
    bulk: dict[str, set[int]] = session.info.pop(_BULK, {})
    out: dict[str, dict[str, Any]] = {}
    for table, wanted in sorted(bulk.items()):
        ranges = _ranges(sorted(wanted))
        parts: list[str] = []
        for first, last in ranges:
            result = session.connection().exec_driver_sql(
                f"SELECT * FROM {table} WHERE id BETWEEN {int(first)} AND {int(last)}")
            found = {int(rid): d[:_DIGEST_HEX]
                     for rid, d in _row_digests(list(result.keys()), result)}
            parts.extend(found.get(i, _DELETED) for i in range(first, last + 1))
        digests = "".join(parts)
        out[table] = {"ranges": ranges, "digests": digests,
                      "sha256": hashlib.sha256(digests.encode()).hexdigest()}
    return out


def _collect(session: Session, _ctx: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in ANCHORED_TABLES:
            # the primary key is set by now; the identity key only after the flush
            ident = inspect(obj).mapper.primary_key_from_instance(obj)
            if ident and ident[0] is not None:
                touch(session, table, [ident[0]])


def pending(session: Session) -> bool:
    return bool(session.info.get(_PENDING)) or bool(session.info.get(_BULK))


event.listen(Session, "after_flush", _collect)


@dataclass(frozen=True)
class RowProblem:
    table: str
    row_id: str
    problem: str  # "edited", "inserted without an audit event", "deleted"

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}: {self.problem}"


class AnchorIndex:
    """The latest digest the log holds for each anchored row, folded from event data."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], bytes | None] = {}

    def add(self, anchors: Iterable[list[str | None]]) -> None:
        for table, rid, digest in anchors:
            assert table is not None and rid is not None
            self._latest[(table, rid)] = bytes.fromhex(digest)[:16] if digest else None

    def add_event(self, data: Mapping[str, Any]) -> None:
        """Both forms an audit event's data carries: `anchors` triples and the compact
        `anchor_rows` of a bulk write, in that order (as `AuditLog.record_many` takes them)."""
        self.add(data.get("anchors", ()))
        for table, entry in data.get("anchor_rows", {}).items():
            digests, at = entry["digests"], 0
            for first, last in entry["ranges"]:
                for rid in range(first, last + 1):
                    d = digests[at:at + _DIGEST_HEX]
                    at += _DIGEST_HEX
                    self._latest[(table, str(rid))] = None if d == _DELETED else bytes.fromhex(d)

    def unanchored(self, session: Session) -> list[tuple[str, str]]:
        existing = set(inspect(session.connection()).get_table_names())
        return [(t, str(r["id"])) for t in ANCHORED_TABLES if t in existing
                for r in _rows(session, t, None) if (t, str(r["id"])) not in self._latest]

    def check(self, session: Session, limit: int = 100) -> list[RowProblem]:
        """Every anchored table against the log: edits, unlogged inserts, deletions."""
        existing = set(inspect(session.connection()).get_table_names())
        problems: list[RowProblem] = []
        for table in ANCHORED_TABLES:
            if table not in existing:
                continue
            seen: set[str] = set()
            for rid_value, digest in _table_digests(session, table):
                rid = str(rid_value)
                seen.add(rid)
                want = self._latest.get((table, rid), b"")
                if want == b"":
                    problems.append(RowProblem(table, rid, "inserted without an audit event"))
                elif want is None:
                    problems.append(RowProblem(table, rid, "present, but the log records its "
                                                           "deletion"))
                elif bytes.fromhex(digest)[:16] != want:
                    problems.append(RowProblem(table, rid, "edited since its audit event"))
            problems.extend(RowProblem(t, rid, "deleted without an audit event")
                            for (t, rid), d in self._latest.items()
                            if t == table and d is not None and rid not in seen)
            if len(problems) >= limit:
                break
        return problems[:limit]
