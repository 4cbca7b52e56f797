from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from compliance.database import Database

# The longest tests start first, one per worker (pytest-xdist, --dist loadgroup in collection
# order): the deployment fault test mostly waits on Flower's heartbeats, and the rest of the
# suite runs beside it and the end-to-end alliance test.
LONGEST_FIRST = ("tests/federation/runtime/test_faults.py", "tests/test_alliance.py",
                 "tests/test_demo.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its order


@pytest.fixture(autouse=True)
def _isolated_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own key directory; nothing touches the developer's keys."""
    monkeypatch.setenv("COMITY_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("COMITY_MASTER_KEY", raising=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'comity.db'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by COMITY_TEST_POSTGRES_URL."""
    base = os.environ.get("COMITY_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("COMITY_TEST_POSTGRES_URL not set (CI starts PostgreSQL and sets it)")
    name = f"comity_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def api_url(db: Database) -> Iterator[str]:
    """The coordinator's API on loopback over the test's database: brand nodes sync, import
    and fetch models through it, as in a deployment."""
    from api.local_server import LocalApi

    with LocalApi(db) as api:
        yield api.url
