"""What may cross a brand boundary: the rules both the brand's client mod
(`federation.brand.wire_mod`) and the coordinator's auditing grid
(`federation.coordinator.auditing_grid`) apply to every reply. Pure: records in, a capture out.

Every record of every reply a brand sends is described (kind, dtype, shape, size, SHA-256) and
checked against what the protocol may carry: numeric model tensors, numeric metrics, the
SecAgg+ protocol's key material, and a short list of declared string fields (digests, rule ids,
column names, empty status messages), and a PSI round's blinded points (uint8, 32 bytes
each, `federation.gate.overlap`). A string anywhere else, an array of strings or objects,
or an array with a dimension equal to the brand's number of customers or examples (a user
embedding, per-row outputs) is a violation: the brand-side mod turns the reply into an error so
it never leaves, and the coordinator fails the run if one arrives anyway.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from flwr.app import RecordDict
from flwr.common import bytes_to_ndarray

from federation.gate.overlap import CONSENT_DIGEST, PSI_RECORD, PSI_REPLY

HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{0,128}$")
# The gate's own reasons for dropping a column (federation.gate.rules), nothing free-form.
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
    (PSI_REPLY, "brand-id"): "token",
    (PSI_REPLY, CONSENT_DIGEST): "digest",
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


def _blinded(cap: Capture, key: str, dtype: str, shape: list[int]) -> None:
    """A PSI message carries one blinded point per entered customer by construction (DH-PSI
    reveals set sizes, nothing else): its row count is not checked against the population,
    but it must be exactly 32-byte points (`federation.gate.overlap`), nothing wider."""
    cap.entries[-1].kind = "blinded-points"
    if dtype != "uint8" or len(shape) != 2 or shape[1] != 32:
        cap.violations.append(f"{PSI_RECORD}.{key}: blinded points must be (n, 32) uint8, "
                              f"got {dtype} {shape}")


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
            if name == PSI_RECORD:
                _blinded(cap, key, arr.dtype, shape)
                continue
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
