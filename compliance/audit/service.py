"""Appends audit events in the caller's transaction and verifies the stored chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from compliance.audit import anchors, merkle
from compliance.audit.chain import (
    GENESIS_HASH,
    VerifyResult,
    canonical_json,
    hash_parts,
    verify_raw,
)
from compliance.audit.checkpoint_models import AuditCheckpoint
from compliance.audit.models import AuditEvent, AuditSubject
from compliance.audit.signing import TreeHead, checkpoint_message, verify_signature
from compliance.database import utcnow
from compliance.errors import ConflictError, InputError, NotFoundError

_AUDIT = cast(Table, AuditEvent.__table__)
_SUBJECTS = cast(Table, AuditSubject.__table__)
_PG_AUDIT_LOCK = 0x636F6D69  # advisory lock id: one appender at a time on PostgreSQL


def _iso(value: Any) -> str:
    """The ISO form hashed at append time, from a raw stored timestamp: SQLite keeps
    'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), PostgreSQL returns an aware datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    s = str(value).replace(" ", "T")
    if s.endswith(".000000"):
        s = s[:-7]
    return s + "+00:00"


def _anchor_at_commit(session: Session) -> None:
    """Rows changed after the transaction's last audit event get one event of their own."""
    session.flush()
    if anchors.pending(session):
        AuditLog(session).record("audit.anchors", actor="system")


event.listen(Session, "before_commit", _anchor_at_commit)


class AuditLog:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Take the appenders' lock now, for the rest of the transaction: PostgreSQL's
        advisory lock (SQLite writers already hold the database's write lock from BEGIN
        IMMEDIATE). Taken again by `_head`, which is harmless."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})

    def _head(self) -> tuple[int, str]:
        self.lock()
        row = self.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def record(self, action: str, *, actor: str, data: dict[str, Any] | None = None,
               brand_id: str | None = None, rule_id: str | None = None,
               occurred_at: datetime | None = None) -> tuple[int, str]:
        """Write one event. `data` must hold no raw personal data: pseudonyms, counts, hashes."""
        return self.record_many([(action, data or {}, brand_id, rule_id)], actor=actor,
                                occurred_at=occurred_at)[0]

    def record_many(self, items: list[tuple[str, dict[str, Any], str | None, str | None]], *,
                    actor: str, occurred_at: datetime | None = None,
                    actors: list[str] | None = None,
                    subjects: list[dict[str, Any]] | None = None) -> list[tuple[int, str]]:
        """Append events in order; returns their (seq, hash). Core inserts, no ORM objects.
        The last event carries the digests of the rows this transaction changed so far
        (`anchors`, and `anchor_rows` for bulk writes), binding each source-of-truth row to
        the event that recorded it. `actors`: one per item, when a group commit appends
        several requests' events. `subjects`: the last event concerns these subjects
        (`audit_subjects` rows without `seq`: brand_id, subject, action, purpose, ref_id),
        indexed for the 7-day trace and anchored by that same event."""
        self.session.flush()
        seq, prev = self._head()
        if subjects:
            last = seq + len(items)
            ids = self.session.execute(
                insert(_SUBJECTS).returning(_SUBJECTS.c.id),
                [{**row, "seq": last} for row in subjects]).scalars().all()
            anchors.touch_bulk(self.session, "audit_subjects", ids)
        bound, bulk = anchors.take(self.session), anchors.take_bulk(self.session)
        if bound or bulk:
            action, data, brand_id, rule_id = items[-1]
            data = {**data, **({"anchors": bound} if bound else {}),
                    **({"anchor_rows": bulk} if bulk else {})}
            items = [*items[:-1], (action, data, brand_id, rule_id)]
        at = occurred_at or utcnow()
        at_iso = at.isoformat()
        rows: list[dict[str, Any]] = []
        if actors is not None and len(actors) != len(items):
            raise ValueError("one actor per audit item")
        for i, (action, data, brand_id, rule_id) in enumerate(items):
            seq += 1
            who = actor if actors is None else actors[i]
            h = hash_parts(prev, seq, at_iso, who, action, brand_id, rule_id,
                           canonical_json(data))
            rows.append({"seq": seq, "occurred_at": at, "actor": who, "action": action,
                         "brand_id": brand_id, "rule_id": rule_id, "data": data,
                         "prev_hash": prev, "hash": h})
            prev = h
        for i in range(0, len(rows), 10_000):
            # the Core table: an executemany without the ORM's bulk-insert bookkeeping
            self.session.execute(insert(_AUDIT), rows[i:i + 10_000])
        return [(r["seq"], r["hash"]) for r in rows]

    def verify(self, batch: int = 50_000) -> VerifyResult:
        """The hash chain, then every signed checkpoint (signature and Merkle root)."""
        raw_sql = text("SELECT seq, occurred_at, actor, action, brand_id, rule_id, data, "
                       "prev_hash, hash FROM audit_events WHERE seq > :last ORDER BY seq "
                       "LIMIT :n")

        index = anchors.AnchorIndex()

        def stream() -> Any:
            last = 0
            while True:
                rows = self.session.execute(raw_sql, {"last": last, "n": batch}).all()
                if not rows:
                    return
                for r in rows:
                    data = r[6] if isinstance(r[6], str) else canonical_json(r[6])
                    if '"anchors":' in data or '"anchor_rows":' in data:
                        index.add_event(json.loads(data))
                    yield (r[0], _iso(r[1]), r[2], r[3], r[4], r[5], data, r[7], r[8])
                last = rows[-1][0]

        result = verify_raw(stream())
        if not result.verified:
            return result
        for cp in self.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq)):
            problem = self._check_checkpoint(cp)
            if problem:
                return VerifyResult(False, result.events, result.head_hash, cp.first_seq,
                                    problem)
        rows = index.check(self.session)
        if rows:
            return VerifyResult(False, result.events, result.head_hash, None,
                                f"{len(rows)}{'+' if len(rows) >= 100 else ''} rows differ "
                                f"from the audit log; first: {rows[0]}",
                                rows=tuple(str(r) for r in rows))
        return result

    def anchor_unanchored(self, actor: str, batch: int = 10_000) -> int:
        """Anchor every row the log holds no digest for, in `audit.anchors` events of
        `batch` rows: for rows written before anchoring existed (migration 0007) and for
        bulk loads. A row the log already anchors is never re-anchored, so this cannot
        launder an edit."""
        index = anchors.AnchorIndex()
        for (data,) in self.session.execute(select(AuditEvent.data)):
            if isinstance(data, dict):
                index.add_event(data)
        found = index.unanchored(self.session)
        for i in range(0, len(found), batch):
            for table, rid in found[i:i + batch]:
                anchors.touch(self.session, table, [rid])
            self.record("audit.anchors", actor=actor, data={"baseline": True})
        return len(found)

    def _range_hashes(self, first: int, last: int) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.session.scalars(
            select(AuditEvent.hash).where(AuditEvent.seq.between(first, last))
            .order_by(AuditEvent.seq))]

    def _check_checkpoint(self, cp: AuditCheckpoint) -> str | None:
        msg = checkpoint_message(cp.first_seq, cp.last_seq, cp.head_hash, cp.merkle_root,
                                 cp.tree_size, cp.tree_root)
        if not verify_signature(cp.public_key, cp.signature, msg):
            return f"checkpoint at event {cp.last_seq} has an invalid signature"
        hashes = self._range_hashes(cp.first_seq, cp.last_seq)
        if len(hashes) != cp.last_seq - cp.first_seq + 1 or \
                merkle.root(hashes).hex() != cp.merkle_root:
            return f"events {cp.first_seq}-{cp.last_seq} differ from their signed checkpoint"
        if cp.tree_root is not None and (cp.tree_size != cp.last_seq or
                                         self._tree_root(cp.tree_size) != cp.tree_root):
            return f"events 1-{cp.last_seq} differ from the signed tree head"
        return None

    def _tree_root(self, size: int) -> str | None:
        """The RFC 6962 head over events 1..size; every checkpoint's head is computed in one
        pass over the log the first time one is asked for (verify checks them all)."""
        cache: dict[int, str] | None = getattr(self, "_tree_roots", None)
        if cache is None or size not in cache:
            sizes = {n for n in self.session.scalars(select(AuditCheckpoint.tree_size))
                     if n is not None} | {size}
            tree, cache, top = merkle.CompactRange(), {}, max(sizes)
            for seq, h in self.session.execute(select(AuditEvent.seq, AuditEvent.hash).where(
                    AuditEvent.seq <= top).order_by(AuditEvent.seq)):
                if seq != tree.size + 1:
                    break  # a gap: no head of this log has that size
                tree.append(bytes.fromhex(h))
                if tree.size in sizes:
                    cache[tree.size] = tree.root().hex()
            self._tree_roots = cache
        return cache.get(size)

    def checkpoint(self, key: Ed25519PrivateKey) -> AuditCheckpoint | None:
        """Sign the Merkle root of every event since the previous checkpoint and the RFC 6962
        head of the whole log (events 1..head, `tree_size`/`tree_root`) with the coordinator's
        key (`privacy.keys.audit_signing_key`). The whole-log head is what brands witness: a
        range alone lets a cut tail and its checkpoint vanish together."""
        prev = self.session.scalar(select(func.max(AuditCheckpoint.last_seq))) or 0
        head, head_hash = self._head()
        if head <= prev:
            return None
        hashes = self._range_hashes(1, head)
        if len(hashes) != head:
            raise ConflictError(f"the audit log has {len(hashes)} events up to seq {head}: "
                                "run `comity audit verify` before signing a checkpoint")
        root = merkle.root(hashes[prev:]).hex()
        tree_root = merkle.root(hashes).hex()
        sig = key.sign(checkpoint_message(prev + 1, head, head_hash, root, head, tree_root)
                       ).hex()
        from cryptography.hazmat.primitives import serialization

        pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw).hex()
        cp = AuditCheckpoint(first_seq=prev + 1, last_seq=head, head_hash=head_hash,
                             merkle_root=root, signature=sig, public_key=pub,
                             tree_size=head, tree_root=tree_root)
        self.session.add(cp)
        self.session.flush()
        return cp

    def tree_head(self, size: int | None = None) -> TreeHead:
        """The signed head of tree size `size` (default: the newest), as brands witness it."""
        stmt = select(AuditCheckpoint).where(AuditCheckpoint.tree_root.is_not(None))
        stmt = (stmt.order_by(AuditCheckpoint.last_seq.desc()).limit(1) if size is None
                else stmt.where(AuditCheckpoint.tree_size == size))
        cp = self.session.scalar(stmt)
        if cp is None or cp.tree_size is None or cp.tree_root is None:
            raise NotFoundError("no signed tree head yet (run `comity audit checkpoint`)"
                                if size is None else f"no signed tree head of size {size}")
        return TreeHead(tree_size=cp.tree_size, tree_root=cp.tree_root,
                        first_seq=cp.first_seq, last_seq=cp.last_seq,
                        head_hash=cp.head_hash, merkle_root=cp.merkle_root,
                        signature=cp.signature, public_key=cp.public_key)

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """Both signed heads and the RFC 6962 §2.1.2 proof that the log of size `first` is a
        prefix of the log of size `second`, computed from the events as stored now."""
        if first > second:
            raise InputError(f"'from' ({first}) must not exceed 'to' ({second})",
                             column="from")
        old, new = self.tree_head(first), self.tree_head(second)
        hashes = self._range_hashes(1, second)
        if len(hashes) != second:
            raise ConflictError(f"the audit log no longer holds events 1-{second}")
        return {"from": old.as_json(), "to": new.as_json(),
                "proof": merkle.consistency_proof(first, hashes)}

    def proof(self, seq: int) -> dict[str, Any]:
        """Inclusion proof for one event, for a regulator: the event, its hash, the audit
        path to a signed Merkle root, the signature and the public key."""
        ev = self.session.get(AuditEvent, seq)
        if ev is None:
            raise NotFoundError(f"audit event {seq} not found")
        cp = self.session.scalar(select(AuditCheckpoint).where(
            AuditCheckpoint.first_seq <= seq, AuditCheckpoint.last_seq >= seq))
        if cp is None:
            raise NotFoundError(f"event {seq} is not covered by a signed checkpoint yet "
                                "(run `comity audit checkpoint`)")
        hashes = self._range_hashes(cp.first_seq, cp.last_seq)
        return {
            "format": "comity-audit-proof/1",
            "event": {"seq": ev.seq, "occurred_at": ev.occurred_at.isoformat(),
                      "actor": ev.actor, "action": ev.action, "brand_id": ev.brand_id,
                      "rule_id": ev.rule_id, "data": ev.data, "prev_hash": ev.prev_hash,
                      "hash": ev.hash},
            "checkpoint": {"first_seq": cp.first_seq, "last_seq": cp.last_seq,
                           "head_hash": cp.head_hash, "merkle_root": cp.merkle_root,
                           "signature": cp.signature, "public_key": cp.public_key,
                           "tree_size": cp.tree_size, "tree_root": cp.tree_root},
            "leaf_index": seq - cp.first_seq, "tree_size": len(hashes),
            "audit_path": merkle.audit_path(seq - cp.first_seq, hashes),
        }

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
