"""Every command that fails on bad input says what is wrong and where (file, line, column),
exits 2 with no traceback, and changes nothing: no database created by a command that reads,
no audit event for a report that was not written, no output file, no dataset registered."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from api.composition import default_services
from compliance.database import Database
from tests.api.test_cli_alliance import _events

pytestmark = pytest.mark.integration

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """`comity ARGS` in this process, in an empty working directory, each run with fresh
    services (as a new process would have)."""
    monkeypatch.chdir(tmp_path)
    for name in ("COMITY_DATABASE_URL", "COMITY_KEYSTORE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        default_services.cache_clear()
        services = default_services()
        try:
            return runner.invoke(app, list(args), env=env)
        finally:
            if "db" in services.__dict__:
                services.db.dispose()
            default_services.cache_clear()

    yield run


def _refused(res: Result, *expected: str) -> None:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    for text in expected:
        assert text in res.output, (text, res.output)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "keys" not in p.parts}


@pytest.mark.parametrize("args", [
    ["audit", "verify"], ["audit", "proof", "1"], ["brand", "list"], ["runs", "list"],
    ["runs", "show", "x"], ["models", "list"], ["budget", "list"],
    ["report", "--period", "2026", "--out", "r.json"],
    ["query", "--requester", "service:x", '{"dataset": "d", "measure": "count", '
                                          '"epsilon": 1.0}'],
])
def test_reading_commands_never_create_a_database(cli: Cli, tmp_path: Path,
                                                  args: list[str]) -> None:
    before = _files(tmp_path)
    _refused(cli(*args), "no database at", ".comity/comity.db", "nothing was created")
    _refused(cli(*args, env={"COMITY_DATABASE_URL": "sqlite:///missing.db"}),
             "no database at missing.db")
    assert _files(tmp_path) == before  # no .comity/, no missing.db, no report


def test_a_file_that_is_not_a_comity_database_is_not_migrated(cli: Cli,
                                                               tmp_path: Path) -> None:
    for name in ("other.db", "other.keys.db"):
        (tmp_path / name).write_bytes(b"")
    _refused(cli("audit", "verify", env={"COMITY_DATABASE_URL": "sqlite:///other.db"}),
             "other.db holds no comity schema")
    assert (tmp_path / "other.db").read_bytes() == b""


def test_a_lost_key_store_is_not_silently_recreated(cli: Cli, tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path / 'c.db'}").dispose()
    (tmp_path / "c.keys.db").unlink()
    _refused(cli("audit", "verify", env={"COMITY_DATABASE_URL": "sqlite:///c.db"}),
             "no database at c.keys.db")
    assert not (tmp_path / "c.keys.db").exists()


def test_bad_periods_and_unwritable_reports_record_nothing(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"COMITY_DATABASE_URL": url}
    assert cli("brand", "add", "lumen-tea", "--name", "L", "--jurisdiction", "pipl",
               env=env).exit_code == 0
    before = _events(url)
    _refused(cli("report", "--period", "9999", "--out", "r.json", env=env),
             "period: year 9999")
    _refused(cli("report", "--period", "0000", "--out", "r.json", env=env), "period:")
    _refused(cli("report", "--period", "2026", "--out", "/nonexistent/dir/r.json", env=env),
             "/nonexistent/dir/r.json", "cannot write here")
    _refused(cli("report", "--period", "2026", "--out", str(tmp_path), env=env),
             "cannot write here")
    assert _events(url) == before and not (tmp_path / "r.json").exists()
    ok = cli("report", "--period", "2026", "--out", "r.json", env=env)
    assert ok.exit_code == 0, ok.output
    assert _events(url) == before + 1 and json.loads((tmp_path / "r.json").read_text())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_pii_scan_and_redact_name_the_byte_that_is_not_utf8(cli: Cli, tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_bytes(b'{"id": 1, "text": "ok"}\n'
                    + b'{"id": 2, "text": "caf\xe9 13812345678"}\n')
    for command in ("scan", "redact"):
        _refused(cli("pii", command, "--input", str(inp), "--output", str(out)),
                 f"{inp}:2:23: not UTF-8 (byte offset 46")
        assert not out.exists()


def test_query_from_a_missing_file_is_located(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    Database(url).dispose()
    env = {"COMITY_DATABASE_URL": url}
    _refused(cli("query", "--requester", "service:x", "@missing.json", env=env),
             "missing.json: no such file")
    (tmp_path / "q.json").write_bytes(b'{"dataset": "\xff"}')
    _refused(cli("query", "--requester", "service:x", "@q.json", env=env),
             "q.json:1:14: not UTF-8")


def test_scan_table_refuses_bad_urls_and_creates_no_file(cli: Cli, tmp_path: Path) -> None:
    _refused(cli("pii", "scan-table", "--url", "notaurl", "--table", "t"),
             "not a database URL")
    _refused(cli("pii", "scan-table", "--url", "sqlite:///missing.db", "--table", "t"),
             "no database at missing.db")
    assert not (tmp_path / "missing.db").exists()


RAGGED = "id,phone,city\nc1,13812345678,Beijing\nc2,Shanghai,13912345678,x\nc3,13712345678,X\n"
OPEN_QUOTE = "id,phone,city\nc1,13812345678,Beijing\nc2,\"13912345678,Shanghai\nc3,1,X\n"


@pytest.mark.parametrize(("body", "expected"), [
    (RAGGED, "t.csv:3: 4 fields, the header has 3"),
    (OPEN_QUOTE, "t.csv:3: a quoted field is never closed"),
    ("id,phone\nc1,\xe9\n", "t.csv:2:4: not UTF-8"),
])
def test_malformed_csv_is_refused_with_file_and_line(cli: Cli, tmp_path: Path, body: str,
                                                     expected: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(body.encode("latin-1") if "\xe9" in body else body.encode())
    _refused(cli("pii", "scan-table", "--input", str(path)), expected)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    Database(url).dispose()
    before = _events(url)
    _refused(cli("dataset", "register", "d", "--unit-col", "id", "--file", str(path),
                 env={"COMITY_DATABASE_URL": url}), expected)
    assert _events(url) == before


def test_a_demo_on_a_database_that_holds_brands_is_refused_before_it_writes(
        cli: Cli, tmp_path: Path) -> None:
    """A second `comity demo` in the same directory used to fail minutes in (the year's
    transfer band and the budget already spent by the first); it is refused at once, exit
    2, saying why and what to do, and the database keeps exactly what it held."""
    assert cli("brand", "add", "lumen-tea", "--name", "Lumen", "--jurisdiction", "pipl"
               ).exit_code == 0
    url = f"sqlite:///{tmp_path / '.comity' / 'comity.db'}"
    before = _events(url)
    _refused(cli("demo", "--out", "demo-out"), "empty compliance database",
             "COMITY_DATABASE_URL")
    assert _events(url) == before
    assert not (tmp_path / "demo-out").exists()
