"""Principals, token issue, listing, revocation and lookup. Roles: dpo, admin, brand:<id>
(the brand node), brand:<id>:staff and brand:<id>:supervisor (the brand's operators: masked
customer lookups, PIPL Art. 51(3) operating permissions), service:<name>. Every token
belongs to a named principal (a person or a service): the
two-person rule for exports and erasures compares principals, so a second token of the same
person is still the same person."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import utcnow
from compliance.errors import ComityError, ConflictError, InputError, NotFoundError
from compliance.tokens.models import ApiToken, PrincipalRecord

_NAME = r"[a-z0-9][a-z0-9_.-]{0,63}"
ROLE_RE = re.compile(rf"^(dpo|admin|brand:{_NAME}(:staff|:supervisor)?|service:{_NAME})$")
STAFF_TIERS = ("staff", "supervisor")
PRINCIPAL_RE = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,127}$")
PRINCIPAL_KINDS = ("person", "service")
PREFIX = "cmt_"


class AuthError(ComityError):
    status_code = 401


class ForbiddenError(ComityError):
    status_code = 403


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's role and id, and the named principal that holds it.
    `actor` (role#token) is what audit events record; `principal_id` is who it is."""

    role: str
    token_id: int
    principal_id: int
    principal_name: str

    @property
    def kind(self) -> str:
        """dpo, admin, brand, service, or a brand operator's tier (staff, supervisor): an
        operator is no brand node and may do none of what a brand token does."""
        parts = self.role.split(":")
        return parts[2] if len(parts) == 3 and parts[0] == "brand" else parts[0]

    @property
    def brand_id(self) -> str | None:
        return self.role.split(":")[1] if self.kind in ("brand", *STAFF_TIERS) else None

    @property
    def actor(self) -> str:
        return f"{self.role}#{self.token_id}"

    def require(self, *kinds: str) -> None:
        if self.kind not in kinds:
            raise ForbiddenError(f"role '{self.role}' may not do this "
                                 f"(needs {' or '.join(kinds)})")

    def may_see_brand(self, brand_id: str) -> bool:
        return self.kind in ("dpo", "admin") or self.brand_id == brand_id


@dataclass(frozen=True)
class TokenInfo:
    """What `comity token list` shows of a token: never the secret nor its hash."""

    id: int
    principal: str
    principal_kind: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "principal": self.principal, "kind": self.principal_kind,
                "role": self.role, "label": self.label,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def _info(t: ApiToken, p: PrincipalRecord) -> TokenInfo:
    return TokenInfo(id=t.id, principal=p.name, principal_kind=p.kind, role=t.role,
                     label=t.label, created_at=t.created_at, revoked_at=t.revoked_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_kind(role: str) -> str:
    """DPOs, administrators and a brand's operators are people; brand nodes and internal
    services are services."""
    if role in ("dpo", "admin") or role.count(":") == 2:
        return "person"
    return "service"


class TokenService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def principal(self, name: str, *, kind: str, actor: str) -> PrincipalRecord:
        """The principal called `name`, registered (and audited) on first use. A name is one
        person or service for good: asking for it with another kind is refused."""
        if not PRINCIPAL_RE.match(name):
            raise InputError(f"invalid principal name '{name[:40]}': lowercase letters, "
                             "digits and . _ @ + - (at most 128)", column="principal")
        if kind not in PRINCIPAL_KINDS:
            raise InputError(f"invalid principal kind '{kind[:20]}': person or service",
                             column="kind")
        row = self.session.scalar(select(PrincipalRecord).where(PrincipalRecord.name == name))
        if row is not None:
            if row.kind != kind:
                raise ConflictError(f"principal '{name}' is a {row.kind}, not a {kind}")
            return row
        row = PrincipalRecord(name=name, kind=kind, created_by=actor[:128])
        self.session.add(row)
        self.session.flush()
        AuditLog(self.session).record("principal.created", actor=actor, data={
            "principal_id": row.id, "name": name, "kind": kind})
        return row

    def create(self, role: str, *, principal: str, kind: str | None = None,
               label: str = "", actor: str = "cli") -> str:
        """A new token for `principal` (registered if new); returns the secret, which is
        shown once and never stored."""
        if not ROLE_RE.match(role):
            raise InputError(f"invalid role '{role}': use dpo, admin, brand:<id>, "
                             "brand:<id>:staff, brand:<id>:supervisor or service:<name> "
                             "(lowercase letters, digits, . _ -)")
        holder = self.principal(principal, kind=kind or default_kind(role), actor=actor)
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(token_sha256=_digest(token), principal_id=holder.id, role=role,
                       label=label)
        self.session.add(row)
        self.session.flush()
        AuditLog(self.session).record("token.created", actor=actor, data={
            "token_id": row.id, "role": role, "principal_id": holder.id,
            "principal": holder.name})
        return token

    def list_tokens(self) -> list[TokenInfo]:
        rows = self.session.execute(
            select(ApiToken, PrincipalRecord)
            .join(PrincipalRecord, PrincipalRecord.id == ApiToken.principal_id)
            .order_by(ApiToken.id)).all()
        return [_info(t, p) for t, p in rows]

    def revoke(self, token_id: int, *, actor: str) -> TokenInfo:
        """Revoke a token for good (authenticate refuses it from now on); audited as
        `token.revoked`. Revoking it twice is a conflict, not a silent success."""
        row = self.session.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError(f"token {token_id} not found")
        if row.revoked_at is not None:
            raise ConflictError(f"token {token_id} was already revoked at "
                                f"{row.revoked_at.isoformat()}")
        row.revoked_at = utcnow()
        holder = self.session.get_one(PrincipalRecord, row.principal_id)
        self.session.flush()
        AuditLog(self.session).record("token.revoked", actor=actor, data={
            "token_id": row.id, "role": row.role, "principal_id": holder.id,
            "principal": holder.name})
        return _info(row, holder)

    def authenticate(self, token: str) -> Principal:
        row = self.session.execute(
            select(ApiToken.id, ApiToken.role, ApiToken.revoked_at, PrincipalRecord.id,
                   PrincipalRecord.name)
            .join(PrincipalRecord, PrincipalRecord.id == ApiToken.principal_id)
            .where(ApiToken.token_sha256 == _digest(token))).first()
        if row is None or row[2] is not None:
            raise AuthError("invalid or revoked token")
        return Principal(row[1], row[0], row[3], row[4])
