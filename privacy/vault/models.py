"""Wrapped per-subject data keys and the PII fields they encrypt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from compliance.database import Base, KeyStoreRecord, utcnow


class SubjectKey(KeyStoreRecord, Base):
    """Lives in the key store (`COMITY_KEYSTORE_URL`, by default a file beside the SQLite
    database), not with the data: a backup of the main database holds ciphertexts but no
    keys, so erasing a subject's key erases it from old backups too. Hence no foreign key."""

    __tablename__ = "subject_keys"

    subject_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubjectPii(Base):
    __tablename__ = "subject_pii"
    __table_args__ = (UniqueConstraint("subject_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
