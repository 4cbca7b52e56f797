"""Stores and reads subjects' PII encrypted; erases a subject by destroying its key."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from compliance.database import utcnow
from compliance.errors import ComityError, NotFoundError
from privacy.keys import master_versions
from privacy.vault.envelope import (
    field_aad,
    new_data_key,
    open_sealed,
    record_aad,
    seal,
    unwrap,
    wrap,
)
from privacy.vault.models import SubjectKey, SubjectPii


class ErasedError(ComityError):
    status_code = 410


class Vault:
    """Master keys are read on first use: shredding and deleting need none."""

    def __init__(self, session: Session, masters: Mapping[int, bytes] | None = None) -> None:
        self.session = session
        self._given = dict(masters) if masters is not None else None

    @cached_property
    def masters(self) -> dict[int, bytes]:
        return self._given if self._given is not None else master_versions()

    @property
    def current(self) -> int:
        return max(self.masters)

    def _data_key(self, subject_id: int, create: bool) -> bytes:
        row = self.session.get(SubjectKey, subject_id)
        if row is None:
            if not create:
                raise ErasedError(f"subject {subject_id} has no data key (erased or never "
                                  "stored)")
            dk = new_data_key()
            self.session.add(SubjectKey(subject_id=subject_id, master_version=self.current,
                                        wrapped_key=wrap(self.masters[self.current], dk,
                                                         subject_id)))
            return dk
        return unwrap(self.masters[row.master_version], row.wrapped_key, subject_id)

    def put(self, subject_id: int, fields: Mapping[str, str]) -> None:
        dk = self._data_key(subject_id, create=True)
        existing = {r.field: r for r in self.session.scalars(
            select(SubjectPii).where(SubjectPii.subject_id == subject_id))}
        for name, value in fields.items():
            ct = seal(dk, value.encode(), field_aad(subject_id, name))
            if name in existing:
                existing[name].ciphertext, existing[name].updated_at = ct, utcnow()
            else:
                self.session.add(SubjectPii(subject_id=subject_id, field=name, ciphertext=ct))
        self.session.flush()

    def get(self, subject_id: int) -> dict[str, str]:
        rows = list(self.session.scalars(select(SubjectPii).where(
            SubjectPii.subject_id == subject_id)))
        if not rows:
            if self.session.get(SubjectKey, subject_id) is None:
                raise NotFoundError(f"no stored personal data for subject {subject_id}")
            return {}
        dk = self._data_key(subject_id, create=False)
        return {r.field: open_sealed(dk, r.ciphertext, field_aad(subject_id, r.field)).decode()
                for r in rows}

    def seal_record(self, subject_id: int, label: str, payload: Any) -> str:
        """`payload` (JSON) sealed under the subject's data key and bound to `label`, as text
        to keep beside the record it belongs to (a request's details): personal data outside
        this vault's table that shredding the subject erases all the same."""
        dk = self._data_key(subject_id, create=True)
        self.session.flush()
        plain = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return base64.b64encode(seal(dk, plain, record_aad(subject_id, label))).decode("ascii")

    def open_record(self, subject_id: int, label: str, sealed: str) -> Any:
        """What `seal_record` sealed; an `ErasedError` once the subject's key is shredded."""
        dk = self._data_key(subject_id, create=False)
        try:
            plain = open_sealed(dk, base64.b64decode(sealed, validate=True),
                                record_aad(subject_id, label))
        except (ValueError, InvalidTag):  # binascii.Error is a ValueError
            raise ComityError(f"sealed record '{label}' does not open: altered or moved",
                              status_code=500) from None
        return json.loads(plain)

    def shred(self, subject_ids: Iterable[int]) -> int:
        """Destroy the data keys (and drop the ciphertexts): every copy, backups included,
        becomes unreadable. Returns how many keys were destroyed."""
        ids = list(subject_ids)
        if not ids:
            return 0
        n = self.session.execute(delete(SubjectKey).where(SubjectKey.subject_id.in_(ids)))
        self.session.execute(delete(SubjectPii).where(SubjectPii.subject_id.in_(ids)))
        return int(n.rowcount or 0)  # type: ignore[attr-defined]

    def expired_fields(self, field: str, before: datetime, limit: int | None = None
                       ) -> list[int]:
        """Row ids of stored `field` values last written before `before`, oldest first."""
        q = (select(SubjectPii.id).where(SubjectPii.field == field,
                                         SubjectPii.updated_at < before)
             .order_by(SubjectPii.id))
        return list(self.session.scalars(q if limit is None else q.limit(limit)))

    def count_expired_fields(self, field: str, before: datetime) -> int:
        return int(self.session.scalar(select(func.count()).select_from(SubjectPii).where(
            SubjectPii.field == field, SubjectPii.updated_at < before)) or 0)

    def delete_fields(self, ids: Iterable[int]) -> int:
        """Delete stored field values by row id (retention of one field, not of the
        subject: the subject's key stays for what else is kept)."""
        n = self.session.execute(delete(SubjectPii).where(SubjectPii.id.in_(list(ids))))
        return int(n.rowcount or 0)  # type: ignore[attr-defined]

    def rotate(self, batch: int = 5000) -> int:
        """Re-wrap every data key under the newest master key; data is not re-encrypted."""
        done = 0
        for row in self.session.scalars(select(SubjectKey).where(
                SubjectKey.master_version != self.current)).yield_per(batch):
            dk = unwrap(self.masters[row.master_version], row.wrapped_key, row.subject_id)
            row.wrapped_key = wrap(self.masters[self.current], dk, row.subject_id)
            row.master_version = self.current
            done += 1
        self.session.flush()
        return done
