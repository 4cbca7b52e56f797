"""Every source-of-truth row is bound to its audit event: an edit, insert or delete made
directly in the database is reported by `audit verify` with table and row."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from compliance.audit.anchors import ANCHORED_TABLES
from compliance.audit.service import AuditLog
from compliance.database import Database
from federation.coordinator.lineage.service import BrandLineage, LineageService
from federation.settings import RunSettings
from privacy.aggregates.service import AggregateService
from tests.api.test_aggregates import QUERY, registered  # noqa: F401  (fixture)
from tests.compliance.governance.records import governance_records
from tests.privacy.experiments.records import operations_records
from tests.privacy.overlap.records import overlap_records

Auth = Callable[[str], dict[str, str]]
pytestmark = pytest.mark.integration
SUBJ = "anchor0subject01"
# A column to tamper with in each table (a withdraw turned into a grant, and the like).
EDIT = {"consent_events": ("action", "grant"), "subject_requests": ("status", "closed"),
        "privacy_budgets": ("limit_micro", 9_000_000), "budget_ledgers": ("spent_micro", 0),
        "dp_releases": ("epsilon_micro", 1), "training_runs": ("status", "failed"),
        "training_run_brands": ("records_used", 999), "training_rounds": ("attempts", 7),
        "model_versions": ("weights_sha256", "0" * 64), "api_tokens": ("role", "admin"),
        "principals": ("name", "mallory"), "impact_assessments": ("status", "draft"),
        "transfer_mechanisms": ("kind", "security_assessment"),
        "cross_border_transfers": ("individuals", 1), "incidents": ("status", "closed"),
        "experiments": ("control_arm", "b"), "pii_reveals": ("approved_by", "forged"),
        "overlap_runs": ("size_released", 999), "audit_subjects": ("subject", "forged0subject")}
# Unique columns a forged copy of a row must change to be insertable.
UNIQUE: dict[str, dict[str, object]] = {
    "consent_events": {"idempotency_key": None}, "subject_requests": {
    "idempotency_key": None}, "api_tokens": {"token_sha256": "f" * 64},
    "model_versions": {"version": 999}, "budget_ledgers": {"period_key": "forged"},
    "privacy_budgets": {"requester": "service:forged"}, "training_rounds": {"round": 999},
    "training_run_brands": {"brand_id": "brand-b"}, "principals": {"name": "forged"},
    "experiments": {"key": "forged"}, "overlap_runs": {"run_id": "forged"}}


@pytest.fixture
def populated(client: TestClient, auth: Auth, db: Database,
              registered: AggregateService) -> Path:  # noqa: F811
    brand = auth("brand:brand-a")
    assert client.post("/v1/consents/batch", headers=brand, json={"events": [{
        "brand_id": "brand-a", "subject": "anchor0subject02", "purpose": "marketing",
        "action": "grant", "notice_version": "2026-01",
        "idempotency_key": "import:anchors-1"}]}).status_code == 200  # audit_subjects
    for action in ("grant", "withdraw"):
        assert client.post("/v1/consents", headers=brand, json={
            "brand_id": "brand-a", "subject": SUBJ, "purpose": "model_training",
            "action": action, "notice_version": "2026-01"}).status_code == 201
    assert client.post("/v1/requests", headers=brand, json={
        "brand_id": "brand-a", "subject": SUBJ, "type": "access"}).status_code == 201
    assert client.post("/v1/aggregates", json=QUERY,
                       headers=auth("service:growth")).status_code == 200
    settings = RunSettings(run_id="run-anchor", brands=("brand-a",),
                           consent_as_of="2026-09-30T00:00:00+00:00")
    weights = [np.ones((2, 2), dtype=np.float32)]
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.record_brands("run-anchor", [BrandLineage("brand-a", 5, 1, 0, "0" * 64, {})])
        lineage.save_round("run-anchor", 1, weights, {"loss": 0.5}, 1)
        lineage.complete("run-anchor", {"final": {"auc": 0.8}}, weights)
    governance_records(db)
    operations_records(db)
    overlap_records(db)
    with db.reading() as s:
        clean = AuditLog(s).verify()
    assert clean.verified, clean.problem
    return Path(db.url.removeprefix("sqlite:///"))


def _first_id(path: Path, table: str) -> object:
    """The newest row (for consent events: the withdrawal)."""
    with sqlite3.connect(path) as con:
        row = con.execute(f"SELECT id FROM {table} ORDER BY rowid DESC LIMIT 1").fetchone()
    assert row is not None, f"the flow wrote no {table} row"
    return row[0]


def _tamper(path: Path, sql: str, params: tuple[object, ...]) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute(sql, params)
    con.commit()
    con.close()


def _problems(db: Database) -> tuple[str, ...]:
    with db.reading() as s:
        res = AuditLog(s).verify()
    assert not res.verified
    return res.rows


def _each_table(db: Database, path: Path) -> Iterator[str]:
    """Each anchored table in turn, on a fresh copy of the populated database."""
    db.dispose()
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pristine = path.read_bytes()
    for table in ANCHORED_TABLES:
        db.dispose()
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
        path.write_bytes(pristine)
        yield table


def test_an_edit_is_named_in_every_table(populated: Path, db: Database) -> None:
    for table in _each_table(db, populated):
        rid = _first_id(populated, table)
        column, value = EDIT[table]
        _tamper(populated, f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, rid))
        assert f"{table} row {rid}: edited since its audit event" in _problems(db)


def test_a_delete_is_named_in_every_table(populated: Path, db: Database) -> None:
    for table in _each_table(db, populated):
        rid = _first_id(populated, table)
        _tamper(populated, f"DELETE FROM {table} WHERE id = ?", (rid,))
        assert f"{table} row {rid}: deleted without an audit event" in _problems(db)


def test_an_insert_is_named_in_every_table(populated: Path, db: Database) -> None:
    for table in _each_table(db, populated):
        rid = _first_id(populated, table)
        con = sqlite3.connect(populated)
        con.row_factory = sqlite3.Row
        row = dict(con.execute(f"SELECT * FROM {table} WHERE id = ?", (rid,)).fetchone())
        con.close()
        forged = "forged-0000" if isinstance(rid, str) else 10_000
        row.update({"id": forged, **UNIQUE.get(table, {})})
        cols = ", ".join(row)
        _tamper(populated, f"INSERT INTO {table} ({cols}) VALUES "
                f"({', '.join('?' * len(row))})", tuple(row.values()))
        assert f"{table} row {forged}: inserted without an audit event" in _problems(db)


def test_the_cli_names_the_table_and_row_and_exits_1(populated: Path, db: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _first_id(populated, "consent_events")
    _tamper(populated, "UPDATE consent_events SET action = 'grant' WHERE action = 'withdraw'",
            ())
    monkeypatch.setenv("COMITY_DATABASE_URL", db.url)
    out = CliRunner().invoke(cli, ["audit", "verify"])
    assert out.exit_code == 1
    assert "consent_events row" in out.output and "edited" in out.output
    assert rid is not None


def test_rows_from_before_anchoring_get_a_baseline_and_edits_are_not_laundered(
        populated: Path, db: Database) -> None:
    _tamper(populated, "INSERT INTO consent_events (brand_id, subject_id, purpose, action, "
            "separate, by_guardian, notice_version, channel, lawful_basis, actor, occurred_at, "
            "recorded_at) SELECT brand_id, subject_id, purpose, action, separate, by_guardian, "
            "notice_version, channel, lawful_basis, actor, occurred_at, recorded_at "
            "FROM consent_events LIMIT 1", ())
    with db.unit_of_work() as s:
        assert AuditLog(s).anchor_unanchored("migration 0007") == 1
    with db.reading() as s:
        assert AuditLog(s).verify().verified
    _tamper(populated, "UPDATE training_runs SET status = 'running'", ())
    with db.unit_of_work() as s:
        assert AuditLog(s).anchor_unanchored("migration 0007") == 0
    assert any(p.startswith("training_runs row") for p in _problems(db))
