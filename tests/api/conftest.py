from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from compliance.database import Database
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from federation.runtime.deployment import free_port


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """`app` served by a real uvicorn on loopback in a thread; yields its base URL. For
    concurrency tests: TestClient, used from many threads, answers occasional 404s that a
    real server never gives."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


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
