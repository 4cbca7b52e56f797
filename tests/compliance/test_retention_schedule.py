"""Scheduled retention sweeps: the interval parser names bad input, the loop runs on time,
and `comity retention sweep --every` leaves one audited sweep per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.errors import InputError
from compliance.retention.schedule import parse_interval, run_every

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.unit
def test_intervals() -> None:
    assert [parse_interval(t) for t in ("90s", "30m", "24h", "7d")] == [90, 1800, 86400,
                                                                      604800]
    for bad in ("0h", "1w", "h", "-5m", "1.5h"):
        with pytest.raises(InputError) as info:
            parse_interval(bad)
        assert info.value.column == "every"


@pytest.mark.unit
def test_run_every_runs_then_waits_the_rest_of_the_interval() -> None:
    calls: list[str] = []
    waits: list[float] = []
    assert run_every(lambda: calls.append("x"), 60, max_runs=3, sleep=waits.append) == 3
    assert calls == ["x"] * 3 and len(waits) == 2 and all(55 < w <= 60 for w in waits)


@pytest.mark.integration
def test_scheduled_sweeps_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'comity.db'}"
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(tmp_path / "k")}
    proc = subprocess.run([sys.executable, "-m", "api.cli", "retention", "sweep", "--every",
                           "1s", "--max-runs", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 2 and lines[0]["still_overdue"]["retention.inactive_customer"] == 0
    db = Database(url)
    with db.reading() as s:
        swept = s.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "retention.swept")).all()
    db.dispose()
    assert [x["started_at"] for x in swept] == [x["started_at"] for x in lines]
    bad = subprocess.run([sys.executable, "-m", "api.cli", "retention", "sweep", "--every",
                          "soon"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "interval 'soon'" in bad.stderr
