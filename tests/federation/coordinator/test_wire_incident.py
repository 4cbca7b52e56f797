"""A run stopped by a wire-audit violation opens an incident in the same transaction as its
failure (PIPL Art. 57; GDPR Art. 33)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from compliance.database import Database
from compliance.governance.models import Incident
from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.coordinator import fail
from federation.errors import WireViolation
from federation.settings import RunSettings

pytestmark = pytest.mark.integration


def test_wire_violation_opens_an_incident(db: Database) -> None:
    settings = RunSettings(run_id="run-w", brands=("lumen-tea", "jade-beauty"),
                           consent_as_of=datetime.now(UTC).isoformat())
    grid = AuditingGrid(object())  # type: ignore[arg-type]
    fail(db, settings, grid, WireViolation("node 7: field 'c.name' is not declared"))
    fail(db, settings, grid, RuntimeError("not a wire problem"))
    with db.reading() as s:
        rows = list(s.scalars(select(Incident)))
    assert [r.source for r in rows] == ["wire_audit"]
    assert rows[0].details["finding"]["run_id"] == "run-w"
    assert "c.name" in rows[0].details["causes"]
