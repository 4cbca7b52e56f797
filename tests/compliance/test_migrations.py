from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from compliance.database import PROJECT_ROOT, ensure_schema
from migrations.models import Base

EXPECTED_TABLES = {"brands", "subjects", "consent_events", "audit_events", "training_runs",
                   "training_run_brands", "model_versions", "training_rounds", "alembic_version"}


def _check(url: str) -> None:
    ensure_schema(url)
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        ensure_schema(url)  # idempotent
        cfg = Config()
        cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
        cfg.set_main_option("sqlalchemy.url", url)
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()


@pytest.mark.integration
def test_migration_on_sqlite(sqlite_url: str) -> None:
    _check(sqlite_url)


@pytest.mark.integration
@pytest.mark.postgres
def test_migration_on_postgres(postgres_url: str) -> None:
    _check(postgres_url)
