"""API tokens are stored only as SHA-256: the database file never holds a usable token."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.database import Database, utcnow
from compliance.errors import InputError
from compliance.tokens.models import ApiToken
from compliance.tokens.service import AuthError, TokenService


@pytest.mark.integration
def test_tokens_are_stored_hashed_and_revocable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        token = TokenService(s).create("brand:lumen-tea")
    with db.reading() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert TokenService(s).authenticate(token).brand_id == "lumen-tea"
        with pytest.raises(AuthError):
            TokenService(s).authenticate(token + "x")
    db.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("comity.db*"))
    assert token.encode() not in stored and token[4:20].encode() not in stored
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        s.scalars(select(ApiToken)).one().revoked_at = utcnow()
    with db.reading() as s, pytest.raises(AuthError, match="revoked"):
        TokenService(s).authenticate(token)
    with db.unit_of_work() as s, pytest.raises(InputError, match="invalid role"):
        TokenService(s).create("root")
    db.dispose()
