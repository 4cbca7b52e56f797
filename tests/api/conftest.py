from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from compliance.database import Database
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService


@pytest.fixture
def client(db: Database) -> TestClient:
    with db.unit_of_work() as s:
        svc = SubjectService(s)
        svc.register_brand("brand-a", "Brand A", "pipl", actor="test")
        svc.register_brand("brand-b", "Brand B", "gdpr", actor="test")
    return TestClient(create_app(db))


@pytest.fixture
def auth(db: Database) -> Callable[..., dict[str, str]]:
    """Headers with a new token; each call is a new principal (a different person or
    service) unless `principal` names one, so two calls are two people."""
    fresh = itertools.count(1)

    def make(role: str, principal: str | None = None) -> dict[str, str]:
        name = principal or f"{role.replace(':', '-')}-{next(fresh)}"
        with db.unit_of_work() as s:
            return {"Authorization": f"Bearer {TokenService(s).create(role, principal=name)}"}

    return make
