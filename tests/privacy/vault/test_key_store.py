"""Crypto-shredding reaches backups: the data keys live in a separate key store, so a copy
of the main database taken before an erasure holds ciphertexts and nothing to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from compliance.database import Database, keystore_url
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService
from privacy.vault.service import ErasedError, Vault


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_backup_of_main_database_is_unreadable_after_erasure(tmp_path: Path) -> None:
    main = tmp_path / "comity.db"
    db = Database(f"sqlite:///{main}")
    assert db.key_url == f"sqlite:///{tmp_path / 'comity.keys.db'}"
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("b1", "Brand", "pipl", actor="test")
        subj = Subject(brand_id="b1", subject_key="k" * 16, jurisdiction="pipl")
        s.add(subj)
        s.flush()
        sid = subj.id
        Vault(s).put(sid, {"phone": "13800138000"})
    db.checkpoint("TRUNCATE")
    assert _count(main, "subject_keys") == 0
    assert _count(tmp_path / "comity.keys.db", "subject_keys") == 1
    assert b"13800138000" not in main.read_bytes()

    backup = tmp_path / "backup.db"
    with sqlite3.connect(main) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    with db.unit_of_work() as s:
        assert Vault(s).get(sid) == {"phone": "13800138000"}
        assert Vault(s).shred([sid]) == 1
    db.dispose()

    restored = Database(f"sqlite:///{backup}", key_url=db.key_url)
    with restored.reading() as s:
        assert _count(backup, "subject_pii") == 1  # the ciphertext survived in the backup
        with pytest.raises(ErasedError):
            Vault(s).get(sid)
    restored.dispose()


def test_key_store_location_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMITY_KEYSTORE_URL", raising=False)
    assert keystore_url("sqlite:////srv/c/comity.db") == "sqlite:////srv/c/comity.keys.db"
    assert keystore_url("sqlite://") == "sqlite://"
    pg = "postgresql+psycopg://u@h/comity"
    assert keystore_url(pg) == pg
    monkeypatch.setenv("COMITY_KEYSTORE_URL", "postgresql+psycopg://u@h/keys")
    assert keystore_url(pg) == "postgresql+psycopg://u@h/keys"
