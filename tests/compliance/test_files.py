"""The one strict way to read operator files (UTF-8, CSV) and to write files whole."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.errors import InputError, NotFoundError
from compliance.files import (
    atomic_open,
    csv_rows,
    read_csv,
    read_text,
    require_existing,
    write_atomically,
)

pytestmark = pytest.mark.unit

cells = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return buf.getvalue().encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 4), data=st.data())
def test_well_formed_csv_reads_back_exactly(tmp_path_factory: pytest.TempPathFactory,
                                            width: int, data: st.DataObject) -> None:
    header = [f"c{k}" for k in range(width)]
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width).filter(
        lambda r: r != [""] * len(r)), max_size=6))  # a blank line is skipped, as pandas does
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(_csv([header, *rows]))
    assert read_csv(path) == (header, rows)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 4), extra=st.integers(-3, 3).filter(bool), data=st.data())
def test_a_ragged_row_is_refused_at_its_line(tmp_path_factory: pytest.TempPathFactory,
                                             width: int, extra: int,
                                             data: st.DataObject) -> None:
    header = [f"c{k}" for k in range(width)]
    good = data.draw(st.lists(st.lists(st.text("ab1", min_size=1, max_size=3),
                                       min_size=width, max_size=width), max_size=4))
    ragged = ["x"] * max(1, width + extra)
    if len(ragged) == width:
        ragged.append("y")
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(_csv([header, *good, ragged, *good]))
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert info.value.line == len(good) + 2 and info.value.file == str(path)
    assert f"the header has {width}" in info.value.message


def test_an_open_quote_is_refused_where_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,phone\nc1,138\nc2,"139\nc3,137\nc4,136\n', encoding="utf-8")
    with pytest.raises(InputError, match="never closed") as info:
        read_csv(path)
    assert info.value.line == 3


def test_quoted_newlines_are_one_row_and_lines_stay_physical(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b\n"x\ny",1\n2,3,4\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert info.value.line == 4  # the row after a two-line row starts on line 4
    rows = csv_rows(path)
    assert [next(rows), next(rows)] == [(1, ["a", "b"]), (2, ["x\ny", "1"])]


@pytest.mark.parametrize(("body", "problem", "line"), [
    (b"", "empty file", 1),
    (b"\n\n", "empty file", 1),
    (b",\n1,2\n", "no column names", 1),
    (b"a,b,a\n1,2,3\n", "appears twice", 1),
])
def test_headers_that_cannot_name_columns(tmp_path: Path, body: bytes, problem: str,
                                          line: int) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(body)
    with pytest.raises(InputError, match=problem) as info:
        read_csv(path)
    assert info.value.line == line


def test_not_utf8_names_line_column_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("id,城市\nc1,北京\n".encode() + b"c2,\xff\n")
    with pytest.raises(InputError, match=r"not UTF-8 \(byte offset 23 ") as info:
        read_csv(path)
    assert (info.value.line, info.value.column) == (3, 4)
    with pytest.raises(InputError, match="no such file"):
        read_text(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not a file"):
        read_text(tmp_path)


def test_bom_and_crlf_are_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffid,x\r\nc1,2\r\n".encode())
    assert read_csv(path) == (["id", "x"], [["c1", "2"]])


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(InputError, match="cannot write here"):
        write_atomically(tmp_path / "no" / "dir" / "r.json", b"x")
    assert not (tmp_path / "no").exists()


def test_a_database_that_is_only_read_must_be_there(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a database URL"):
        require_existing("notaurl")
    with pytest.raises(NotFoundError, match="no database at"):
        require_existing(f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(NotFoundError, match="in-memory"):
        require_existing("sqlite://")
    assert list(tmp_path.iterdir()) == []
    require_existing("postgresql://u:p@localhost/x")  # a server is asked when connecting
