"""Brands as witnesses of the audit log. A brand node keeps every signed tree head it has seen
and checks RFC 6962 consistency proofs between them (`federation.brand.witness`); here the
coordinator records which brand vouched for which head, in the audit log and in
`audit_witnesses`, so that the DPO report can say how many brands witnessed a period's last
checkpoint. A head that brands outside the coordinator hold cannot be cut from the log with
its tail unnoticed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.checkpoint_models import AuditCheckpoint, AuditWitness
from compliance.audit.service import AuditLog
from compliance.errors import ConflictError


@dataclass(frozen=True)
class Witnessed:
    brand_id: str
    tree_size: int
    tree_root: str
    witnessed_at: str
    new: bool


class WitnessService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, brand_id: str, tree_size: int, tree_root: str, *, actor: str) -> Witnessed:
        """A brand's word that it verified the signed head (`tree_size`, `tree_root`).
        Idempotent per brand and size; a head this log never signed is a conflict (the brand
        saw another log: its own alarm says which)."""
        signed = self.session.scalar(select(AuditCheckpoint).where(
            AuditCheckpoint.tree_size == tree_size, AuditCheckpoint.tree_root == tree_root))
        if signed is None:
            raise ConflictError(f"tree head {tree_size} with that root is not a signed "
                                "checkpoint of this audit log")
        row = self.session.scalar(select(AuditWitness).where(
            AuditWitness.brand_id == brand_id, AuditWitness.tree_size == tree_size))
        if row is not None and row.tree_root != tree_root:
            raise ConflictError(f"this brand witnessed another root at tree size {tree_size}: "
                                "the audit log was forked")
        new = row is None
        if row is None:
            row = AuditWitness(brand_id=brand_id, tree_size=tree_size, tree_root=tree_root)
            self.session.add(row)
            self.session.flush()
            AuditLog(self.session).record("audit.witnessed", actor=actor, brand_id=brand_id,
                                          data={"tree_size": tree_size,
                                                "tree_root": tree_root})
        return Witnessed(row.brand_id, row.tree_size, row.tree_root,
                         row.witnessed_at.isoformat(), new)

    def brands_for(self, tree_size: int, tree_root: str) -> list[str]:
        """The brands that witnessed exactly this head (size and root), by id."""
        return list(self.session.scalars(select(AuditWitness.brand_id).where(
            AuditWitness.tree_size == tree_size, AuditWitness.tree_root == tree_root)
            .order_by(AuditWitness.brand_id)))
