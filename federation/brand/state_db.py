"""A SQLite file of the brand node's own, in its state directory: made mode 0600 (the
directory 0700) before anything is written to it, its schema created on open, one transaction
per `connect()` (commit on success, roll back on error). The consent store and the witness
store are each one."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StateDb:
    def __init__(self, directory: Path, name: str, schema: str) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / name
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self.connect() as db:
            db.executescript(schema)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()
