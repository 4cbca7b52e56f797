"""Token issue and lookup. Roles: dpo, admin, brand:<id>, service:<name>."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.errors import ComityError, InputError
from compliance.tokens.models import ApiToken

_NAME = r"[a-z0-9][a-z0-9_.-]{0,63}"
ROLE_RE = re.compile(rf"^(dpo|admin|brand:{_NAME}|service:{_NAME})$")
PREFIX = "cmt_"


class AuthError(ComityError):
    status_code = 401


class ForbiddenError(ComityError):
    status_code = 403


@dataclass(frozen=True)
class Principal:
    role: str
    token_id: int

    @property
    def kind(self) -> str:
        return self.role.split(":", 1)[0]

    @property
    def brand_id(self) -> str | None:
        return self.role.split(":", 1)[1] if self.kind == "brand" else None

    @property
    def actor(self) -> str:
        return f"{self.role}#{self.token_id}"

    def require(self, *kinds: str) -> None:
        if self.kind not in kinds:
            raise ForbiddenError(f"role '{self.role}' may not do this "
                                 f"(needs {' or '.join(kinds)})")

    def may_see_brand(self, brand_id: str) -> bool:
        return self.kind in ("dpo", "admin") or self.brand_id == brand_id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, role: str, label: str = "", actor: str = "cli") -> str:
        if not ROLE_RE.match(role):
            raise InputError(f"invalid role '{role}': use dpo, admin, brand:<id> or "
                             "service:<name> (lowercase letters, digits, . _ -)")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(token_sha256=_digest(token), role=role, label=label)
        self.session.add(row)
        self.session.flush()
        AuditLog(self.session).record("token.created", actor=actor,
                                      data={"token_id": row.id, "role": role})
        return token

    def authenticate(self, token: str) -> Principal:
        row = self.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
        if row is None or row.revoked_at is not None:
            raise AuthError("invalid or revoked token")
        return Principal(row.role, row.id)
