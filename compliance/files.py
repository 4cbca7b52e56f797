"""Files an operator hands us, and files we hand back: one strict way to read and write them.

Reading: text must be UTF-8 (a bad byte is reported by file, line and byte column, never
half-decoded); CSV is RFC 4180 with a header, every row as wide as the header and every quote
closed, so that a ragged row cannot shift values into the wrong column and an open quote cannot
swallow the rest of the file. Writing: a temporary file beside the target, flushed and renamed
over it (`os.replace`, atomic on POSIX), so that a reader never sees half a file and a failed
write leaves the old one in place. Errors are `InputError`s naming the place, never the values
(they may be personal data). A database URL that is only read must name a database that is there
(`require_existing`). Imports nothing of ours but `compliance.errors`."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from compliance.errors import InputError, NotFoundError

_BOM = "\ufeff"


def _missing(path: Path) -> InputError | None:
    if not path.exists():
        return InputError("no such file", file=str(path))
    if not path.is_file():
        return InputError("not a file", file=str(path))
    return None


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, decoded line with its ending) for each line; a byte sequence that is not
    UTF-8 stops the read with its line and 1-based byte column."""
    problem = _missing(path)
    if problem:
        raise problem
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    with fh:
        offset = 0
        for n, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 (byte offset {offset + exc.start} in the file)",
                                 file=str(path), line=n, column=exc.start + 1) from None
            offset += len(raw)
            yield n, text[1:] if n == 1 and text.startswith(_BOM) else text


def read_text(path: Path) -> str:
    """The whole file as UTF-8 text (see `utf8_lines`)."""
    return "".join(text for _, text in utf8_lines(path))


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, fields) for the header and every row, blank lines skipped.
    Refuses a missing or empty header, duplicate column names, a row with another number of
    fields than the header, and a quote left open, each at its line."""
    reader = csv.reader((text for _, text in utf8_lines(path)), strict=True)
    width: int | None = None
    while True:
        line = reader.line_num + 1  # a row starts on the line after the last one read
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            what = ("a quoted field is never closed (it runs to the end of the file)"
                    if "end of data" in str(exc) else f"malformed CSV: {exc}")
            raise InputError(what, file=str(path), line=line) from None
        if not row:
            continue
        if width is None:
            _check_header(path, line, row)
            width = len(row)
        elif len(row) != width:
            raise InputError(f"{len(row)} fields, the header has {width}", file=str(path),
                             line=line)
        yield line, row
    if width is None:
        raise InputError("empty file: a CSV needs a header row", file=str(path), line=1)


def _check_header(path: Path, line: int, row: list[str]) -> None:
    if all(not name.strip() for name in row):
        raise InputError("the header row has no column names", file=str(path), line=line)
    seen: set[str] = set()
    for k, name in enumerate(row, start=1):
        if name in seen:
            raise InputError(f"column name '{name}' appears twice in the header",
                             file=str(path), line=line, column=k)
        seen.add(name)


def check_csv(path: Path) -> None:
    """Read the whole CSV strictly and keep nothing (for files another reader will scan)."""
    for _ in csv_rows(path):
        pass


def read_csv(path: Path, *, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and up to `limit` rows (every row when None), all cells as text, read strictly
    (`csv_rows`); the rows past `limit` are still checked."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for _line, row in csv_rows(path):
        if header is None:
            header = row
        elif limit is None or len(rows) < limit:
            rows.append(row)
    assert header is not None  # csv_rows refuses a file without one
    return header, rows


@contextmanager
def atomic_open(path: Path, *, text: bool = False) -> Iterator[IO[Any]]:
    """Write `path` as a whole or not at all: the body goes to a temporary file in the same
    directory, is flushed to disk, then renamed over `path`. A directory that does not exist
    fails before anything is written (it is not created)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror}", file=str(path)) from None
    try:
        with os.fdopen(fd, "w" if text else "wb", encoding="utf-8" if text else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(f"cannot write here: {exc.strerror}", file=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, body: bytes) -> None:
    """`body` into `path` through `atomic_open`."""
    with atomic_open(path) as fh:
        fh.write(body)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or another backend.
    Refuses text that is not a database URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError("not a database URL (expected e.g. sqlite:///path/to/file.db or "
                         "postgresql+psycopg://host/name)", column="url") from None
    if not parsed.drivername.startswith("sqlite"):
        return None
    name = parsed.database or ""
    return None if name in ("", ":memory:") or name.startswith("file:") else Path(name)


def require_existing(url: str, *, hint: str = "") -> None:
    """A database that is only read must already be there: SQLite creates a missing file on
    connect, so a missing file (or an in-memory URL) is refused before any connection."""
    from sqlalchemy.engine import make_url

    path = sqlite_file(url)
    if path is None and make_url(url).drivername.startswith("sqlite"):
        raise NotFoundError(f"an in-memory database holds nothing to read{hint}")
    if path is not None and not path.is_file():
        raise NotFoundError(f"no database at {path}{hint}")
