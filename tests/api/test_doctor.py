"""`comity doctor` on a good installation and on broken ones: what it finds, the fix it
prints, its exit code, and that it changes nothing."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.doctor import browser_check
from compliance.database import Database
from privacy.keys import key_dir, secret_file

pytestmark = pytest.mark.integration


@pytest.fixture
def listening() -> Iterator[str]:
    """A real TCP listener on loopback, standing in for the SuperLink's port."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"127.0.0.1:{server.getsockname()[1]}"


def flwr_config(home: Path, address: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[superlink.comity-local]\naddress = "{address}"\n')
    return home


def doctor(monkeypatch: pytest.MonkeyPatch, url: str,
           home: Path) -> tuple[int, dict[str, dict[str, str]], str]:
    monkeypatch.setenv("COMITY_DATABASE_URL", url)
    monkeypatch.setenv("FLWR_HOME", str(home))
    monkeypatch.delenv("COMITY_KEYSTORE_URL", raising=False)
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    checks = [json.loads(line) for line in result.stdout.splitlines()]
    by_name: dict[str, dict[str, str]] = {}
    for c in checks:
        by_name.setdefault(c["name"], c)
    return result.exit_code, by_name, result.stdout


def test_a_good_installation_passes(db: Database, tmp_path: Path, listening: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file("master.key", 32)
    secret_file("audit-signing.key", 32)
    code, checks, out = doctor(monkeypatch, db.url, flwr_config(tmp_path / "flwr", listening))
    for name in ("database", "key store", "key directory", "key files", "SuperLink"):
        assert checks[name]["status"] == "ok", out
    assert "master key" not in checks
    assert "at head" in checks["database"]["detail"]
    failed = [c for c in checks.values() if c["status"] == "fail"]
    assert code == (1 if failed else 0), out
    assert not failed or failed == [checks["CJK font"]], out  # a machine without the font


def test_missing_key_dir_and_unmigrated_database_fail_and_say_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # a database file with no comity schema
    before = path.read_bytes()
    code, checks, out = doctor(monkeypatch, f"sqlite:///{path}", tmp_path / "no-flwr")
    assert code == 1
    assert checks["database"]["status"] == "fail"
    assert "no migration" in checks["database"]["detail"]
    assert checks["database"]["fix"] == "run `comity db upgrade`"
    assert checks["key store"]["status"] == "fail"  # old.keys.db is not there
    assert "no database at" in checks["key store"]["detail"]
    assert checks["key directory"]["status"] == "fail"
    assert f"mkdir -m 700 -p {key_dir()}" in checks["key directory"]["fix"]
    assert checks["SuperLink"]["status"] == "warn"  # not configured: simulation only
    # doctor looks, never repairs
    assert path.read_bytes() == before and not key_dir().exists()
    assert not (tmp_path / "old.keys.db").exists()


def test_loose_key_modes_fail_with_the_chmod_to_run(db: Database,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    secret_file("master.key", 32)
    loose = key_dir() / "master.key"
    loose.chmod(0o644)
    key_dir().chmod(0o755)
    code, checks, out = doctor(monkeypatch, db.url, tmp_path / "no-flwr")
    assert code == 1
    assert checks["key directory"]["fix"] == f"chmod 700 {key_dir()}"
    assert checks["key file"]["detail"] == f"{loose} is mode 0644"
    assert checks["key file"]["fix"] == f"chmod 600 {loose}"


def test_a_configured_superlink_that_does_not_answer_fails(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
    secret_file("master.key", 32)
    code, checks, out = doctor(monkeypatch, db.url, flwr_config(tmp_path / "flwr", address))
    assert code == 1
    assert checks["SuperLink"]["status"] == "fail"
    assert address in checks["SuperLink"]["detail"]
    assert "superlink.comity-local.address" in checks["SuperLink"]["fix"]


def test_a_missing_database_is_reported_not_created(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nowhere" / "comity.db"
    code, checks, out = doctor(monkeypatch, f"sqlite:///{path}", tmp_path / "no-flwr")
    assert code == 1 and checks["database"]["detail"] == f"no database at {path}"
    assert not path.parent.exists()


def test_text_output_prints_each_fix_under_its_check(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMITY_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.setenv("FLWR_HOME", str(tmp_path / "no-flwr"))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("fail  database"))
    assert lines[at + 1].strip().startswith("fix: run `comity db upgrade`")


def test_chromium_without_its_driver_is_a_warning_with_the_packages() -> None:
    found = {"chromium": "/usr/bin/chromium"}
    check = browser_check(found.get)
    assert check.status == "warn" and "chromedriver not found" in check.detail
    assert check.fix == "apt-get install chromium chromium-driver"
    assert browser_check(lambda n: f"/usr/bin/{n}").status == "ok"
