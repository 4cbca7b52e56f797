from __future__ import annotations

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
def auth(db: Database) -> Callable[[str], dict[str, str]]:
    def make(role: str) -> dict[str, str]:
        with db.unit_of_work() as s:
            return {"Authorization": f"Bearer {TokenService(s).create(role)}"}

    return make
