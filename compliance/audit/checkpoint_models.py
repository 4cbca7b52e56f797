"""Signed audit checkpoints: an Ed25519 signature over the Merkle root of a range and, since
tree heads (migration 0008), over the RFC 6962 head of the whole log; and the brands that
witnessed each head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, utcnow


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    first_seq: Mapped[int] = mapped_column()
    last_seq: Mapped[int] = mapped_column(unique=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The head over events 1..tree_size (= last_seq); None on checkpoints signed before 0008.
    tree_size: Mapped[int | None] = mapped_column()
    tree_root: Mapped[str | None] = mapped_column(String(64))


class AuditWitness(Base):
    """A brand node's word that it checked this signed tree head: its signature under the
    coordinator's pinned key and its consistency with every head the brand saw before."""

    __tablename__ = "audit_witnesses"
    __table_args__ = (UniqueConstraint("brand_id", "tree_size"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    brand_id: Mapped[str] = mapped_column(String(64), ForeignKey("brands.id"), index=True)
    tree_size: Mapped[int] = mapped_column(index=True)
    tree_root: Mapped[str] = mapped_column(String(64))
    witnessed_at: Mapped[datetime] = mapped_column(default=utcnow)
