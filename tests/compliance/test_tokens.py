"""API tokens are stored only as SHA-256: the database file never holds a usable token."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database, utcnow
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.tokens.models import ApiToken, PrincipalRecord
from compliance.tokens.service import AuthError, TokenService


@pytest.mark.integration
def test_tokens_are_stored_hashed_and_revocable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        token = TokenService(s).create("brand:lumen-tea", principal="lumen-tea-node")
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
        TokenService(s).create("root", principal="root")
    db.dispose()


@pytest.mark.integration
def test_tokens_belong_to_a_named_principal_listed_without_secret(tmp_path: Path) -> None:
    """Two tokens of alice are one principal; the list names principal, role, label and
    dates, never the secret or its hash; a name is one kind for good."""
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        svc = TokenService(s)
        first = svc.create("dpo", principal="alice@dpo", label="laptop", actor="cli:root")
        second = svc.create("dpo", principal="alice@dpo", label="phone", actor="cli:root")
        svc.create("brand:lumen-tea", principal="lumen-tea-node", actor="cli:root")
        with pytest.raises(ConflictError, match="is a person"):
            svc.create("dpo", principal="alice@dpo", kind="service")
        with pytest.raises(InputError, match="principal name"):
            svc.create("dpo", principal="Alice Smith")
    with db.reading() as s:
        svc = TokenService(s)
        a, b = svc.authenticate(first), svc.authenticate(second)
        assert a.token_id != b.token_id and a.principal_id == b.principal_id
        assert a.principal_name == "alice@dpo" and a.actor == f"dpo#{a.token_id}"
        listed = [t.as_json() for t in svc.list_tokens()]
        holder = s.scalars(select(PrincipalRecord).where(PrincipalRecord.name == "alice@dpo")
                           ).one()
        assert (holder.kind, holder.created_by) == ("person", "cli:root")
    assert [(t["principal"], t["kind"], t["role"], t["label"], t["revoked_at"])
            for t in listed] == [("alice@dpo", "person", "dpo", "laptop", None),
                                 ("alice@dpo", "person", "dpo", "phone", None),
                                 ("lumen-tea-node", "service", "brand:lumen-tea", "", None)]
    shown = json.dumps(listed)
    assert first not in shown and hashlib.sha256(first.encode()).hexdigest() not in shown
    db.dispose()


@pytest.mark.integration
def test_revoking_is_audited_and_refused_from_then_on(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        token = TokenService(s).create("admin", principal="ops@alliance")
        kept = TokenService(s).create("admin", principal="ops@alliance")
    with db.unit_of_work() as s:
        tid = TokenService(s).authenticate(token).token_id
        info = TokenService(s).revoke(tid, actor="cli:root")
        assert info.revoked_at is not None and info.principal == "ops@alliance"
    with db.reading() as s:
        with pytest.raises(AuthError, match="revoked"):
            TokenService(s).authenticate(token)
        assert TokenService(s).authenticate(kept).principal_name == "ops@alliance"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "token.revoked")).one()
        assert event.actor == "cli:root" and event.data["token_id"] == tid
    with db.unit_of_work() as s, pytest.raises(ConflictError, match="already revoked"):
        TokenService(s).revoke(tid, actor="cli:root")
    with db.unit_of_work() as s, pytest.raises(NotFoundError):
        TokenService(s).revoke(999, actor="cli:root")
    db.dispose()


@pytest.mark.integration
@pytest.mark.slow
def test_token_commands_create_list_revoke(tmp_path: Path) -> None:
    """`comity token create --principal`, `list` (JSON, no secret) and `revoke <id>`."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COMITY_")},
           "COMITY_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "COMITY_KEY_DIR": str(tmp_path / "keys")}

    def comity(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", "token", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    made = comity("create", "--role", "dpo", "--principal", "alice@dpo")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("cmt_") and "\n" not in token
    assert comity("create", "--role", "dpo").returncode != 0  # a token needs its principal
    listed = comity("list")
    assert listed.returncode == 0 and token not in listed.stdout
    (row,) = json.loads(listed.stdout)
    assert (row["principal"], row["role"], row["revoked_at"]) == ("alice@dpo", "dpo", None)
    revoked = comity("revoke", str(row["id"]))
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    again = comity("revoke", str(row["id"]))
    assert again.returncode == 2 and "already revoked" in again.stderr
