"""Pure hash-chain math for the audit log (no I/O).

Each event's hash is SHA-256(prev_hash || canonical JSON of its content), the scheme of
Crosby & Wallach, "Efficient Data Structures for Tamper-Evident Logging" (USENIX Sec. 2009),
in its simplest linear form. Verification recomputes every link and names the first break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compliance.canonical import canonical_json

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainedEvent:
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    brand_id: str | None
    rule_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _opt(value: str | None) -> str:
    return "null" if value is None else _str(value)


def hash_parts(prev_hash: str, seq: int, at_iso: str, actor: str, action: str,
               brand_id: str | None, rule_id: str | None, data_json: str) -> str:
    """SHA-256 over prev_hash and the canonical JSON of the event, built from parts so the
    verifier can hash the stored canonical `data` text without parsing it. Identical to
    canonical_json({"seq", "at", "actor", "action", "brand", "rule", "data"})."""
    body = (f'{{"action":{_str(action)},"actor":{_str(actor)},"at":{_str(at_iso)},'
            f'"brand":{_opt(brand_id)},"data":{data_json},"rule":{_opt(rule_id)},'
            f'"seq":{seq}}}')
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def event_hash(prev_hash: str, seq: int, occurred_at: datetime, actor: str, action: str,
               brand_id: str | None, rule_id: str | None, data: dict[str, Any]) -> str:
    return hash_parts(prev_hash, seq, occurred_at.isoformat(), actor, action, brand_id,
                      rule_id, canonical_json(data))


@dataclass(frozen=True)
class VerifyResult:
    verified: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    rows: tuple[str, ...] = ()  # anchored rows that differ from the log (anchors.RowProblem)


def verify_raw(rows: Iterable[tuple[Any, ...]], prev: str = GENESIS_HASH, expected_seq: int = 1,
               count: int = 0) -> VerifyResult:
    """The fast path over raw rows as stored: (seq, at_iso, actor, action, brand, rule,
    data_json, prev_hash, hash), with `data_json` the canonical text written at append."""
    sha = hashlib.sha256
    for seq, at_iso, actor, action, brand, rule, data_json, prev_hash, h in rows:
        if seq != expected_seq:
            kind = "deleted" if seq > expected_seq else "inserted or reordered"
            return VerifyResult(False, count, prev, expected_seq,
                                f"event {expected_seq} {kind}: found seq {seq}")
        if prev_hash != prev:
            return VerifyResult(False, count, prev, seq,
                                f"event {seq} does not link to its predecessor")
        body = (f'{{"action":{_str(action)},"actor":{_str(actor)},"at":{_str(at_iso)},'
                f'"brand":{_opt(brand)},"data":{data_json},"rule":{_opt(rule)},'
                f'"seq":{seq}}}')
        if sha((prev + body).encode("utf-8")).hexdigest() != h:
            return VerifyResult(False, count, prev, seq,
                                f"event {seq} was modified (hash mismatch)")
        prev, expected_seq, count = h, expected_seq + 1, count + 1
    return VerifyResult(True, count, prev, None, None)


def verify_chain(events: Iterable[ChainedEvent]) -> VerifyResult:
    """Detects edits (hash mismatch), deletions and insertions (seq gap or link mismatch)
    and reordering (link mismatch), reporting the first sequence number that fails."""
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    for ev in events:
        if ev.seq != expected_seq:
            kind = "deleted" if ev.seq > expected_seq else "inserted or reordered"
            return VerifyResult(False, count, prev, expected_seq,
                                f"event {expected_seq} {kind}: found seq {ev.seq}")
        if ev.prev_hash != prev:
            return VerifyResult(False, count, prev, ev.seq,
                                f"event {ev.seq} does not link to its predecessor")
        recomputed = event_hash(prev, ev.seq, ev.occurred_at, ev.actor, ev.action,
                                ev.brand_id, ev.rule_id, ev.data)
        if recomputed != ev.hash:
            return VerifyResult(False, count, prev, ev.seq,
                                f"event {ev.seq} was modified (hash mismatch)")
        prev, expected_seq, count = ev.hash, expected_seq + 1, count + 1
    return VerifyResult(True, count, prev)


def verify_proof(proof: dict[str, Any]) -> bool:
    """Check an exported inclusion proof offline: the event's own hash, its place under the
    signed Merkle root, and the Ed25519 signature over that root."""
    from datetime import datetime as _dt

    from compliance.audit import merkle
    from compliance.audit.signing import checkpoint_message, verify_signature

    ev, cp = proof["event"], proof["checkpoint"]
    h = event_hash(ev["prev_hash"], ev["seq"], _dt.fromisoformat(ev["occurred_at"]), ev["actor"],
                   ev["action"], ev["brand_id"], ev["rule_id"], ev["data"])
    if h != ev["hash"]:
        return False
    if not merkle.verify_path(bytes.fromhex(h), proof["leaf_index"], proof["tree_size"],
                              proof["audit_path"], bytes.fromhex(cp["merkle_root"])):
        return False
    msg = checkpoint_message(cp["first_seq"], cp["last_seq"], cp["head_hash"], cp["merkle_root"],
                             cp.get("tree_size"), cp.get("tree_root"))
    return verify_signature(cp["public_key"], cp["signature"], msg)
