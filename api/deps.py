"""Request-scoped dependencies: the database, read transactions, the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from compliance.database import Database
from compliance.policy.schemas import PolicySet
from compliance.tokens.service import AuthError, ForbiddenError, Principal, TokenService


async def get_database(request: Request) -> Database:
    """Write endpoints open `db.unit_of_work()` in their own body, so the transaction starts
    and commits in one worker thread: a transaction held across thread hops can wait for a
    worker that is itself waiting for the write lock."""
    return request.app.state.db  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_database)]


def get_read_session(request: Request) -> Iterator[Session]:
    """For endpoints that only read: no write lock, so they never queue behind writers."""
    with request.app.state.db.reading() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


_PRINCIPAL = "comity.principal"  # where rate_key leaves the principal in the request scope


def authenticate(db: Database, authorization: str | None) -> Principal:
    """Authenticates in its own read-only transaction so that endpoints which run their own
    units of work (retention sweeps) never hold the write lock while doing so. Inline on the
    event loop: one indexed lookup costs less than the hop to a worker thread."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("missing bearer token (Authorization: Bearer <token>)")
    with db.reading() as session:
        return TokenService(session).authenticate(authorization.split(" ", 1)[1].strip())


def rate_key(scope: MutableMapping[str, Any]) -> str | None:
    """The rate limiter's key for a request whose credentials authenticate: its principal,
    however the header is spelled (trailing spaces, another token of the same principal).
    None when they do not; the limiter then counts the request against its address. The
    principal is kept in the request scope, so that `get_principal` does not look it up
    a second time."""
    header = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k == b"authorization"), None)
    try:
        principal = authenticate(scope["app"].state.db, header)
    except AuthError:
        return None
    scope.setdefault("state", {})[_PRINCIPAL] = principal
    return f"principal:{principal.principal_id}"


async def get_principal(request: Request,
                        authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller, as the rate limiter authenticated it, or authenticated here."""
    known = request.scope.get("state", {}).get(_PRINCIPAL)
    if isinstance(known, Principal):
        return known
    return authenticate(request.app.state.db, authorization)


PrincipalDep = Annotated[Principal, Depends(get_principal)]

MAX_DB_INT = 2**63 - 1  # larger integers cannot be bound to SQLite or PostgreSQL BIGINT


async def get_policies(request: Request) -> PolicySet:
    """Async only so that FastAPI does not hop to a worker thread for an attribute."""
    return request.app.state.policies  # type: ignore[no-any-return]


PoliciesDep = Annotated[PolicySet, Depends(get_policies)]


def brand_scope(principal: Principal, brand_id: str | None) -> str | None:
    """A brand token is pinned to its own brand; asking for another is forbidden."""
    if principal.kind == "brand":
        if brand_id not in (None, principal.brand_id):
            raise ForbiddenError(f"role '{principal.role}' cannot see another brand")
        return principal.brand_id
    return brand_id
