"""What crosses a brand boundary, recorded and checked at the Flower message layer.

Every record of every reply a brand sends is described (kind, dtype, shape, size, SHA-256) and
checked against what the protocol may carry: numeric model tensors, numeric metrics, the
SecAgg+ protocol's key material, and a short list of declared string fields (digests, rule ids,
column names, empty status messages). A string anywhere else, an array of strings or objects,
or an array with a dimension equal to the brand's number of customers or examples (a user
embedding, per-row outputs) is a violation: the brand-side mod turns the reply into an error so
it never leaves, and the coordinator fails the run if one arrives anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context, Error, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import bytes_to_ndarray
from flwr.serverapp import Grid

CAPTURE_ENV = "COMITY_WIRE_AUDIT_DIR"
WIRE_ERROR_CODE = 451  # "unavailable for legal reasons": the reply was withheld
HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{0,128}$")
# The gate's own reasons for dropping a column (federation/gate.py), nothing free-form.
GATE_REASON = re.compile(r"^(PII detected|identifying|not needed for [a-z_]+) \([A-Za-z_]+\)$")
NUMERIC_DTYPES = ("float", "int", "uint", "bool")

# (record, key) -> what its strings may be. Anything else with a string is a violation.
STRING_FIELDS: dict[tuple[str, str], str] = {
    ("gate", "brand-id"): "token",
    ("gate", "consent-snapshot-sha256"): "digest",
    ("gate", "excluded-digest"): "digest",
    ("gate", "categories"): "token",
    ("gate", "dropped-columns"): "column-reason",
    ("gate", "excluded-rules"): "rule-count",
    ("fitres.status", "message"): "empty",
    ("evaluateres.status", "message"): "empty",
}
SECAGG_RECORD = "secaggplus"
MASKED_PARAMS = "masked_params"


@dataclass
class Entry:
    record: str
    key: str
    kind: str
    dtype: str
    shape: list[int]
    nbytes: int
    sha256: str


@dataclass
class Capture:
    brand: str
    message_type: str
    entries: list[Entry] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _string_ok(rule: str | None, value: str) -> bool:
    if rule == "digest":
        return bool(HEX_DIGEST.match(value))
    if rule == "empty":
        return value == ""
    if rule == "token":
        return bool(TOKEN.match(value))
    if rule in ("column-reason", "rule-count"):
        if value == "":
            return True
        first, _, second = value.partition("\t")
        pattern = GATE_REASON if rule == "column-reason" else re.compile(r"^\d+$")
        return bool(TOKEN.match(first) and pattern.match(second))
    return False


def _scalars(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else [value]


def _masked(cap: Capture, name: str, key: str, values: list[Any], forbidden: set[int]) -> None:
    """SecAgg+ sends the masked update as serialized integer arrays: decode their shapes."""
    for i, v in enumerate(values):
        try:
            arr = bytes_to_ndarray(v)
        except (ValueError, TypeError, OSError):
            cap.violations.append(f"{name}.{key}[{i}]: not a serialized array")
            continue
        shape = [int(d) for d in arr.shape]
        cap.entries.append(Entry(name, f"{key}[{i}]", "masked-array", str(arr.dtype), shape,
                                 int(arr.nbytes), _digest(v)))
        if arr.dtype.kind not in "iub":
            cap.violations.append(f"{name}.{key}[{i}]: masked array of {arr.dtype}")
        tied = forbidden.intersection(shape)
        if tied:
            cap.violations.append(f"{name}.{key}[{i}]: shape {shape} has a dimension equal "
                                  f"to the brand's row count {sorted(tied)}")


def inspect_content(content: RecordDict, *, brand: str, message_type: str,
                    population: Iterable[int] = ()) -> Capture:
    """Pure: describe and check one message's content. `population` holds the counts a
    per-customer or per-row array would have as a dimension (customers, examples)."""
    forbidden = {n for n in population if n > 1}
    cap = Capture(brand=brand, message_type=message_type)
    for name, arrays in content.array_records.items():
        for key, arr in arrays.items():
            shape = [int(d) for d in arr.shape]
            cap.entries.append(Entry(name, key, "array", arr.dtype, shape, len(arr.data),
                                     _digest(arr.data)))
            if not arr.dtype.startswith(NUMERIC_DTYPES):
                cap.violations.append(f"{name}.{key}: array of {arr.dtype}")
            tied = forbidden.intersection(shape)
            if tied:
                cap.violations.append(f"{name}.{key}: shape {shape} has a dimension equal to "
                                      f"the brand's row count {sorted(tied)}")
    for name, metrics in content.metric_records.items():
        for key, value in metrics.items():
            values = list(_scalars(value))
            cap.entries.append(Entry(name, key, "metric", type(values[0]).__name__ if values
                                     else "empty", [len(values)] if isinstance(value, list)
                                     else [], 8 * len(values),
                                     _digest(json.dumps(value).encode())))
            if isinstance(value, list) and len(values) in forbidden:
                cap.violations.append(f"{name}.{key}: {len(values)} values, one per row")
    for name, config in content.config_records.items():
        for key, cvalue in config.items():
            values = list(_scalars(cvalue))
            raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in values)
            kinds = sorted({type(v).__name__ for v in values}) or ["empty"]
            cap.entries.append(Entry(name, key, "config", "/".join(kinds),
                                     [len(values)] if isinstance(cvalue, list) else [],
                                     len(raw), _digest(raw)))
            if name.startswith(SECAGG_RECORD) and key == MASKED_PARAMS:
                _masked(cap, name, key, values, forbidden)
            for v in values:
                if isinstance(v, bytes) and not name.startswith(SECAGG_RECORD):
                    cap.violations.append(f"{name}.{key}: bytes outside the SecAgg+ record")
                elif isinstance(v, str) and not _string_ok(STRING_FIELDS.get((name, key)), v):
                    cap.violations.append(f"{name}.{key}: a string the protocol does not "
                                          "declare")
            if isinstance(cvalue, list) and len(values) in forbidden:
                cap.violations.append(f"{name}.{key}: {len(values)} values, one per row")
    return cap


class CaptureLog:
    """Appends captures as JSON lines; one file per brand, safe across threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def write(self, cap: Capture) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = cap.to_json() + "\n"
        with self._lock, open(self.directory / f"{cap.brand or 'node'}.jsonl", "a",
                              encoding="utf-8") as f:
            f.write(line)


def declare_population(context: Context, *counts: int) -> None:
    """Called by the ClientApp once it knows its data: the row counts no array may mirror."""
    context.state.config_records["wire-audit"] = ConfigRecord(
        {"population": [int(c) for c in counts] or [0]})


def _population(context: Context) -> list[int]:
    rec = context.state.config_records.get("wire-audit")
    return [int(v) for v in rec["population"]] if rec else []  # type: ignore[union-attr]


def _brand(context: Context) -> str:
    return str(context.node_config.get("brand-id", context.node_config.get("partition-id",
                                                                            "node")))


def wire_audit_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Outermost client mod: sees each reply exactly as it would leave the brand."""
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    cap = inspect_content(reply.content, brand=_brand(context),
                          message_type=msg.metadata.message_type,
                          population=_population(context))
    directory = context.node_config.get("wire-audit-dir") or os.environ.get(CAPTURE_ENV)
    if directory:
        CaptureLog(Path(str(directory))).write(cap)
    if cap.violations:
        return Message(Error(code=WIRE_ERROR_CODE, reason="wire audit withheld the reply: "
                             + "; ".join(cap.violations[:3])), reply_to=msg)
    return reply


class WireViolation(Exception):
    """A reply carried something other than model tensors and aggregate metrics."""


class AuditingGrid(Grid):
    """The coordinator's side: every reply pulled from the brands is inspected with the same
    rules before any strategy or workflow sees it; a violation stops the run."""

    def __init__(self, inner: Grid) -> None:
        self.inner = inner
        self.captures: list[Capture] = []
        self.populations: dict[int, list[int]] = {}

    def declare(self, node_id: int, *counts: int) -> None:
        self.populations[node_id] = [int(c) for c in counts]

    def _check(self, replies: Iterable[Message]) -> list[Message]:
        out = list(replies)
        for m in out:
            if m.has_error():
                continue
            node = m.metadata.src_node_id
            cap = inspect_content(m.content, brand=str(node),
                                  message_type=m.metadata.message_type,
                                  population=self.populations.get(node, []))
            self.captures.append(cap)
            if cap.violations:
                raise WireViolation(f"node {node}: " + "; ".join(cap.violations[:3]))
        return out

    @property
    def run(self) -> Any:
        return self.inner.run

    def set_run(self, run: Any) -> None:
        self.inner.set_run(run)

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self.inner.get_node_ids()

    def get_nodes(self) -> Iterable[Any]:
        return self.inner.get_nodes()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.inner.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._check(self.inner.pull_messages(message_ids))

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self._check(self.inner.send_and_receive(messages, timeout=timeout))

    def summary(self) -> dict[str, Any]:
        """For the audit log: what crossed, by kind, and one digest over all of it."""
        kinds: dict[str, int] = {}
        total = hashlib.sha256()
        size = 0
        for cap in self.captures:
            for e in cap.entries:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
                size += e.nbytes
                total.update(e.sha256.encode())
        return {"messages": len(self.captures), "entries": kinds, "bytes": size,
                "violations": sum(len(c.violations) for c in self.captures),
                "capture_sha256": total.hexdigest()}
