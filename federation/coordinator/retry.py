"""The coordinator's one retry rule, for training rounds and for releases of DP statistics
alike: an attempt that produced nothing is reported, then tried again, up to a limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from federation.errors import RoundFailed

T = TypeVar("T")


def retried(attempt: Callable[[int], T | None], *, tries: int, what: str,
            on_failure: Callable[[int, str], None] | None = None,
            failure: type[RoundFailed] = RoundFailed) -> tuple[T, int]:
    """Call `attempt(n)` for n = 1, 2, ... until it returns a result. A None or a
    `RoundFailed` is a failed attempt, reported to `on_failure(n, reason)` (which may wait for
    the brands to be back) before the next. Returns the result and the attempts made: every
    attempt may have released something, so DP accounting counts them all. Raises `failure`
    after the last attempt; any other error is not retried."""
    if tries < 1:
        raise ValueError("tries must be at least 1")
    reason = ""
    for n in range(1, tries + 1):
        try:
            out = attempt(n)
        except RoundFailed as exc:
            out, reason = None, str(exc)
        else:
            reason = f"{what} produced nothing"
        if out is not None:
            return out, n
        if on_failure is not None:
            on_failure(n, reason)
    raise failure(f"{what} did not complete in {tries} attempts ({reason})")
