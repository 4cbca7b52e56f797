from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from compliance.database import Database


@pytest.mark.integration
def test_healthz_and_openapi(db: Database) -> None:
    client = TestClient(create_app(db))
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]
