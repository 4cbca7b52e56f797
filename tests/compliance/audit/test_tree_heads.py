"""Checkpoints sign the RFC 6962 head of the whole log as well as their own range; heads of
two checkpoints come with a consistency proof; checkpoints signed before tree heads stay
verifiable; brands that witnessed a head are recorded once, in the audit log too."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from compliance.audit import merkle
from compliance.audit.checkpoint_models import AuditCheckpoint
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.audit.signing import TreeHead, checkpoint_message
from compliance.audit.witnesses import WitnessService
from compliance.database import Database
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.subjects.service import SubjectService
from privacy.keys import audit_signing_key

pytestmark = pytest.mark.integration


def _fill(db: Database, n: int) -> None:
    with db.unit_of_work() as s:
        for i in range(n):
            AuditLog(s).record("test.event", actor="tester", data={"i": i})


def _checkpoint(db: Database) -> AuditCheckpoint:
    with db.unit_of_work() as s:
        cp = AuditLog(s).checkpoint(audit_signing_key())
        assert cp is not None
        return cp


def _hashes(db: Database) -> list[bytes]:
    with db.reading() as s:
        return [bytes.fromhex(h) for h in
                s.scalars(select(AuditEvent.hash).order_by(AuditEvent.seq))]


def test_each_checkpoint_signs_the_head_of_the_whole_log(db: Database) -> None:
    _fill(db, 5)
    first = _checkpoint(db)
    _fill(db, 4)
    second = _checkpoint(db)
    assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (1, 5, 6, 9)
    hashes = _hashes(db)
    assert second.merkle_root == merkle.root(hashes[5:]).hex()  # the range, as before
    assert (second.tree_size, second.tree_root) == (9, merkle.root(hashes).hex())
    with db.reading() as s:
        head = AuditLog(s).tree_head()
        assert head == AuditLog(s).tree_head(9) and AuditLog(s).verify().verified
        with pytest.raises(NotFoundError):
            AuditLog(s).tree_head(7)
    assert head.signed_by(second.public_key)
    assert not head.signed_by(bytes(32).hex())
    assert TreeHead.from_json(head.as_json()) == head
    forged = TreeHead.from_json({**head.as_json(), "tree_size": 8})
    assert not forged.signed_by(second.public_key)


def test_consistency_between_two_signed_heads(db: Database) -> None:
    _fill(db, 3)
    _checkpoint(db)
    _fill(db, 8)
    _checkpoint(db)
    with db.reading() as s:
        out = AuditLog(s).consistency(3, 11)
        assert AuditLog(s).consistency(11, 11)["proof"] == []
        with pytest.raises(InputError):
            AuditLog(s).consistency(11, 3)
        with pytest.raises(NotFoundError):
            AuditLog(s).consistency(2, 11)
    old, new = TreeHead.from_json(out["from"]), TreeHead.from_json(out["to"])
    assert merkle.verify_consistency(3, 11, bytes.fromhex(old.tree_root),
                                     bytes.fromhex(new.tree_root), out["proof"])


def test_checkpoints_from_before_tree_heads_still_verify(db: Database) -> None:
    """A checkpoint as signed before migration 0008 (v1 message, no tree head) verifies, and
    the next one signs the head of everything."""
    _fill(db, 4)
    cp = _checkpoint(db)
    key = audit_signing_key()
    v1 = key.sign(checkpoint_message(cp.first_seq, cp.last_seq, cp.head_hash,
                                     cp.merkle_root)).hex()
    with db.unit_of_work() as s:
        s.execute(update(AuditCheckpoint).values(tree_size=None, tree_root=None, signature=v1))
    with db.reading() as s:
        assert AuditLog(s).verify().verified
        with pytest.raises(NotFoundError):
            AuditLog(s).tree_head()
        proof = AuditLog(s).proof(2)
    from compliance.audit.chain import verify_proof

    assert verify_proof(proof)
    _fill(db, 2)
    assert _checkpoint(db).tree_size == 6
    with db.reading() as s:
        assert AuditLog(s).verify().verified and verify_proof(AuditLog(s).proof(5))


def test_a_forged_tree_root_fails_verify(db: Database) -> None:
    _fill(db, 4)
    _checkpoint(db)
    with db.unit_of_work() as s:
        s.execute(update(AuditCheckpoint).values(tree_root="ab" * 32))
    with db.reading() as s:
        res = AuditLog(s).verify()
    assert not res.verified and "signature" in (res.problem or "")
    key = audit_signing_key()
    with db.unit_of_work() as s:  # re-signed by the key holder: the root itself is checked
        cp = s.scalars(select(AuditCheckpoint)).one()
        cp.signature = key.sign(checkpoint_message(cp.first_seq, cp.last_seq, cp.head_hash,
                                                   cp.merkle_root, cp.tree_size,
                                                   cp.tree_root)).hex()
    with db.reading() as s:
        res = AuditLog(s).verify()
    assert not res.verified and "tree head" in (res.problem or "")


def test_witnesses_are_recorded_once_and_audited(db: Database) -> None:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-a", "A", "pipl", actor="test")
        SubjectService(s).register_brand("brand-b", "B", "pipl", actor="test")
    _fill(db, 3)
    cp = _checkpoint(db)
    assert cp.tree_root is not None and cp.tree_size is not None
    n = cp.tree_size
    with db.unit_of_work() as s:
        svc = WitnessService(s)
        assert svc.record("brand-a", n, cp.tree_root, actor="brand:brand-a").new
        assert not svc.record("brand-a", n, cp.tree_root, actor="brand:brand-a").new
        svc.record("brand-b", n, cp.tree_root, actor="brand:brand-b")
        with pytest.raises(ConflictError):
            svc.record("brand-b", n, "00" * 32, actor="brand:brand-b")
        with pytest.raises(ConflictError):
            svc.record("brand-b", n - 1, cp.tree_root, actor="brand:brand-b")
    with db.reading() as s:
        assert WitnessService(s).brands_for(n, cp.tree_root) == ["brand-a", "brand-b"]
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.witnessed")
                           ).all()
        assert [(e.brand_id, e.data["tree_size"]) for e in events] == [("brand-a", n),
                                                                        ("brand-b", n)]
        assert AuditLog(s).verify().verified
