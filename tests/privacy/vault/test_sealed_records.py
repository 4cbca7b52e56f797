"""Sealed records: personal data kept beside another row (a request's payload) under the
subject's data key, bound to its label, erased by shredding the subject."""

from __future__ import annotations

import pytest

from compliance.database import Database
from compliance.errors import ComityError
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService
from privacy.vault.service import ErasedError, Vault

pytestmark = pytest.mark.integration


def test_a_sealed_record_opens_only_under_its_label_and_not_after_shredding(
        db: Database) -> None:
    payload = {"fields": {"phone": "13900001111", "name": "张三"}}
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("b1", "Brand", "pipl", actor="test")
        subj = Subject(brand_id="b1", subject_key="k" * 16, jurisdiction="pipl")
        s.add(subj)
        s.flush()
        vault = Vault(s)
        sealed = vault.seal_record(subj.id, "request:r1", payload)
        assert "13900001111" not in sealed and "张三" not in sealed
        assert vault.open_record(subj.id, "request:r1", sealed) == payload
        for label, blob in (("request:r2", sealed), ("request:r1", sealed[:-4] + "AAA=")):
            with pytest.raises(ComityError, match="altered or moved") as info:
                vault.open_record(subj.id, label, blob)
            assert info.value.status_code == 500
        assert vault.shred([subj.id]) == 1
        with pytest.raises(ErasedError):
            vault.open_record(subj.id, "request:r1", sealed)
