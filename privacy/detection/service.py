"""JSONL in, JSONL out: the `comity pii scan` / `redact` contract, all or nothing.

Input lines are `{"id", "text"}`; a bad line stops the run with file, line and column and
the output file is left untouched (results go to a temporary file renamed at the end).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compliance.errors import InputError
from compliance.files import atomic_open, utf8_lines
from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import Finding

ProgressFn = Callable[[int], None]
BATCH = 512


def read_jsonl(path: Path) -> Iterator[tuple[int, Any, str]]:
    for n, raw in utf8_lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=n,
                             column=exc.colno) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", file=str(path), line=n, column=1)
        if "id" not in obj or not isinstance(obj["id"], str | int):
            raise InputError("field 'id' missing or not a string/integer", file=str(path),
                             line=n)
        if not isinstance(obj.get("text"), str):
            raise InputError("field 'text' missing or not a string", file=str(path), line=n)
        yield n, obj["id"], obj["text"]


def _atomic_jsonl(out: Path, rows: Iterator[dict[str, Any]]) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_open(out, text=True) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def _batches(path: Path) -> Iterator[list[tuple[int, Any, str]]]:
    batch: list[tuple[int, Any, str]] = []
    for item in read_jsonl(path):
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def process_jsonl(inp: Path, out: Path, scanner: PiiScanner,
             row: Callable[[Any, str, list[Finding]], dict[str, Any]],
             progress: ProgressFn | None) -> int:
    """Scan every `{id, text}` line of `inp` in batches and write `row(id, text, findings)`
    per line to `out`, atomically: a bad line leaves no output."""
    def rows() -> Iterator[dict[str, Any]]:
        for batch in _batches(inp):
            found = scanner.scan_many([t for _, _, t in batch])
            for (_, rid, text), fs in zip(batch, found, strict=True):
                yield row(rid, text, fs)
            if progress:
                progress(len(batch))

    return _atomic_jsonl(out, rows())


def scan_jsonl(inp: Path, out: Path, scanner: PiiScanner,
               progress: ProgressFn | None = None) -> int:
    return process_jsonl(inp, out, scanner, lambda rid, _t, fs: {
        "id": rid, "entities": [f.as_dict() for f in fs]}, progress)
