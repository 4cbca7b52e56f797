"""`comity doctor`: is this coordinator's installation fit to run? Each check looks and
changes nothing (no database or key file is created, no migration run) and, when it finds a
problem, says what to do about it.

A `fail` is something that breaks the service or weakens a safeguard the law asks for (key
files readable by others: PIPL Art. 51, GDPR Art. 32); a `warn` is something only some
commands need (Chromium for the DPO console's browser tests, an unset SuperLink for
simulation-only use).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _schema(name: str, url: str) -> Iterator[Check]:
    """Reachable, then at Alembic's head; a SQLite file that is not there is reported, not
    made (SQLite would create it on connect)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from compliance.database import PROJECT_ROOT
    from compliance.files import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        yield Check(name, "fail", f"no database at {path}",
                    "run `comity db upgrade` (or set COMITY_DATABASE_URL to the right one)")
        return
    args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    engine = create_engine(url, connect_args=args)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        yield Check(name, "fail", f"cannot connect to {_shown(url)} ({type(exc).__name__})",
                    "start the database or correct its URL (COMITY_DATABASE_URL, "
                    "COMITY_KEYSTORE_URL)")
        return
    finally:
        engine.dispose()
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no migration"
        yield Check(name, "fail", f"{_shown(url)} is at {at}, the code at "
                    f"{', '.join(sorted(heads))}", "run `comity db upgrade`")
        return
    yield Check(name, "ok", f"{_shown(url)} reachable, schema at head {', '.join(heads)}")
    if path is not None and stat.S_IMODE(path.stat().st_mode) & 0o077:
        yield Check(f"{name} file mode", "fail",
                    f"{path} is mode {stat.S_IMODE(path.stat().st_mode):04o}: others can read "
                    "consent records, the audit log or keys", f"chmod 600 {path}")


def database_checks(url: str | None = None) -> Iterator[Check]:
    from compliance.database import database_url, keystore_url

    main = database_url(url, create=False)
    yield from _schema("database", main)
    keys = keystore_url(main)
    if keys != main:
        yield from _schema("key store", keys)


def key_checks(directory: Path | None = None) -> Iterator[Check]:
    """The key directory 0700, every file in it 0600 (`privacy.keys` makes them so; a copy
    or a restore from backup often does not)."""
    from privacy.keys import key_dir

    where = directory or key_dir()
    if not where.is_dir():
        yield Check("key directory", "fail", f"{where} is missing (COMITY_KEY_DIR)",
                    "restore it from backup or point COMITY_KEY_DIR at it: without master.key "
                    "no subject's data can be decrypted; on a new installation: "
                    f"mkdir -m 700 -p {where}")
        return
    mode = stat.S_IMODE(where.stat().st_mode)
    if mode & 0o077:
        yield Check("key directory", "fail", f"{where} is mode {mode:04o}",
                    f"chmod 700 {where}")
    else:
        yield Check("key directory", "ok", f"{where} mode {mode:04o}")
    loose = [(p, stat.S_IMODE(p.stat().st_mode)) for p in sorted(where.iterdir())
             if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    for p, m in loose:
        yield Check("key file", "fail", f"{p} is mode {m:04o}", f"chmod 600 {p}")
    if not loose:
        n = sum(1 for p in where.iterdir() if p.is_file())
        yield Check("key files", "ok", f"{n} file(s), each mode 0600 or tighter")
    if not os.environ.get("COMITY_MASTER_KEY") and not (where / "master.key").is_file():
        yield Check("master key", "warn", f"no {where / 'master.key'} and no "
                    "COMITY_MASTER_KEY", "on a new installation it is made on first use; "
                    "otherwise restore it from backup")


def font_check() -> Check:
    from compliance.report.fonts import CJK_FONT_FIX, cjk_fonts

    fonts = cjk_fonts()
    if fonts:
        return Check("CJK font", "ok", f"{len(fonts)} famil{'y' if len(fonts) == 1 else 'ies'}"
                     f" cover Chinese (first: {fonts[0]})")
    return Check("CJK font", "fail", "fc-list :lang=zh lists no font",
                 CJK_FONT_FIX.removeprefix("no installed font covers Chinese, so "))


CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def browser_check(which: Callable[[str], str | None] = shutil.which) -> Check:
    browser = next((p for p in map(which, CHROMIUM) if p), None)
    driver = which("chromedriver")
    if browser and driver:
        return Check("Chromium", "ok", f"{browser} with {driver}")
    missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver))
                           if not p)
    return Check("Chromium", "warn", f"{missing} not found (the DPO console's browser tests "
                 "skip)", "apt-get install chromium chromium-driver")


def superlink_check(home: Path | None = None, federation: str | None = None) -> Check:
    from compliance.errors import ComityError
    from federation.runtime.deployment import FEDERATION
    from federation.runtime.training import check_reachable, flwr_home, superlink_address

    where = flwr_home(home)
    fed = federation or FEDERATION
    if not (where / "config.toml").is_file():
        return Check("SuperLink", "warn", f"not configured ({where / 'config.toml'} is "
                     "missing): simulation only", "for deployment training, write "
                     f"[superlink.{fed}] address = \"HOST:PORT\" there (or set FLWR_HOME)")
    try:
        address = superlink_address(where, fed)
        check_reachable(address)
    except ComityError as exc:
        return Check("SuperLink", "fail", exc.message,
                     f"start the SuperLink, or correct superlink.{fed}.address in "
                     f"{where / 'config.toml'}")
    return Check("SuperLink", "ok", f"{address} answers ({fed})")


def run_checks(*, url: str | None = None, key_directory: Path | None = None,
               flwr: Path | None = None) -> list[Check]:
    return [*database_checks(url), *key_checks(key_directory), font_check(), browser_check(),
            superlink_check(flwr)]
