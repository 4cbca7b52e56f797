"""How commands talk to the operator: results on stdout, everything else on stderr; an error
is one line naming the problem (and where), exit code 2, nothing changed; progress bars for
long work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from compliance.errors import ComityError

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True)


def fail(exc: ComityError) -> typer.Exit:
    """Print the error and return the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def reports_errors(*also: type[Exception]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A command's errors (every `ComityError`, and the exception types in `also`, e.g. a
    `ValueError` from a bad option value) become one line on stderr and exit code 2."""
    caught: tuple[type[Exception], ...] = (ComityError, *also)

    def wrap(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(*args, **kwargs)
            except caught as exc:
                raise fail(exc if isinstance(exc, ComityError)
                           else ComityError(str(exc))) from None
        return run
    return wrap


def count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return None


def with_progress(label: str, total: int | None,
                  run: Callable[[Callable[[int], None]], R]) -> R:
    """`run(advance)` under a progress bar on stderr; `advance(n)` moves it by n."""
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}"),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(label, total=total)
        return run(lambda n: bar.advance(task, n))
