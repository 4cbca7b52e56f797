"""SQLite files hold consent records, the audit log and the subjects' keys: they are made
0600, like the key files, never readable by other users of the machine (issue 19). SQLite
makes a new file 0644 under the usual umask, and gives its -wal and -shm files the mode of
the database file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.database import Database
from compliance.subjects.service import SubjectService
from federation.brand.consent_store import ConsentStore

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The usual default, under which SQLite made the files 0644."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _modes(directory: Path, suffixes: tuple[str, ...]) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()
            if p.name.endswith(suffixes)}


def test_the_coordinator_database_and_key_store_are_made_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    explicit = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    default = Database()  # the embedded default under ./.comity
    try:
        for db in (explicit, default):
            with db.unit_of_work() as s:  # writes through the WAL of both files
                SubjectService(s).register_brand("brand-a", "Brand A", "pipl", actor="t")
            files = _modes(Path(db.url.removeprefix("sqlite:///")).parent,
                           (".db", ".db-wal", ".db-shm"))
            assert {"comity.db", "comity.keys.db", "comity.db-wal"} <= set(files), files
            assert set(files.values()) == {0o600}, files
    finally:
        explicit.dispose()
        default.dispose()
    assert stat.S_IMODE((tmp_path / ".comity").stat().st_mode) == 0o700


def test_the_brand_nodes_consent_store_is_made_0600(tmp_path: Path) -> None:
    store = ConsentStore(tmp_path / "state")
    store.replace_subjects([("pseudonym-1", False, False)])
    files = _modes(tmp_path / "state", (".sqlite", ".sqlite-journal", ".sqlite-wal"))
    assert files and set(files.values()) == {0o600}, files
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
