"""The operator's commands fail clearly on bad input, name the problem, exit non-zero and
change nothing: a duplicate or malformed brand, training over an unknown brand, a SuperLink
that is not up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from federation.runtime.deployment import free_port, write_flwr_config

pytestmark = pytest.mark.integration


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _events(url: str) -> int:
    db = Database(url)
    try:
        with db.reading() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    finally:
        db.dispose()


def test_brand_and_train_refuse_bad_input_and_change_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COMITY_")},
           "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(tmp_path / "keys"),
           "FLWR_HOME": str(tmp_path / "flwr")}
    ok = _cli(["brand", "add", "lumen-tea", "--name", "Lumen", "--jurisdiction", "pipl"], env,
              tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["id"] == "lumen-tea"
    before = _events(url)
    for args, expected in [
        (["brand", "add", "lumen-tea", "--name", "Again", "--jurisdiction", "pipl"],
         "already registered"),
        (["brand", "add", "x-1", "--name", "X", "--jurisdiction", "mars"],
         "unknown jurisdiction"),
        (["brand", "add", "Bad Id", "--name", "X", "--jurisdiction", "pipl"], "id:"),
        (["train", "churn", "--brands", "lumen-tea,ghost"], "not registered: ghost"),
        (["train", "forecast", "--brands", "lumen-tea"], "unknown model 'forecast'"),
        (["train", "churn", "--brands", "lumen-tea", "--strategy", "bogus"],
         "unknown strategy 'bogus'"),
        (["train", "recommend", "--brands", "lumen-tea"], "--catalogue"),
        (["train", "churn", "--brands", "lumen-tea"], "no Flower config"),
    ]:
        r = _cli(args, env, tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert expected in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    write_flwr_config(tmp_path / "flwr", f"127.0.0.1:{free_port()}", None)
    down = _cli(["train", "churn", "--brands", "lumen-tea"], env, tmp_path)
    assert down.returncode == 2 and "is not up" in down.stderr, down.stderr
    assert _events(url) == before  # nothing was recorded by any refused command
    listed = json.loads(_cli(["brand", "list"], env, tmp_path).stdout)
    assert [b["id"] for b in listed] == ["lumen-tea"] and listed[0]["name"] == "Lumen"
