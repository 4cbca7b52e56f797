"""Request-scoped dependencies: one transaction per request, the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from compliance.policy.loader import PolicySet
from compliance.tokens.service import AuthError, ForbiddenError, Principal, TokenService


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the endpoint returns, roll back if it raises."""
    with request.app.state.db.unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(session: SessionDep,
                  authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("missing bearer token (Authorization: Bearer <token>)")
    return TokenService(session).authenticate(authorization.split(" ", 1)[1].strip())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_policies(request: Request) -> PolicySet:
    return request.app.state.policies  # type: ignore[no-any-return]


PoliciesDep = Annotated[PolicySet, Depends(get_policies)]


def brand_scope(principal: Principal, brand_id: str | None) -> str | None:
    """A brand token is pinned to its own brand; asking for another is forbidden."""
    if principal.kind == "brand":
        if brand_id not in (None, principal.brand_id):
            raise ForbiddenError(f"role '{principal.role}' cannot see brand '{brand_id}'")
        return principal.brand_id
    return brand_id
