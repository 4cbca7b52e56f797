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

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


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


def event_hash(prev_hash: str, seq: int, occurred_at: datetime, actor: str, action: str,
               brand_id: str | None, rule_id: str | None, data: dict[str, Any]) -> str:
    body = canonical_json({
        "seq": seq, "at": occurred_at.isoformat(), "actor": actor, "action": action,
        "brand": brand_id, "rule": rule_id, "data": data,
    })
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    verified: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


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
    msg = checkpoint_message(cp["first_seq"], cp["last_seq"], cp["head_hash"], cp["merkle_root"])
    return verify_signature(cp["public_key"], cp["signature"], msg)
