"""Scheduled retention: the sweep run again every interval until stopped. A sweep is safe to
interrupt (whole batches only), so stopping between or inside runs loses nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from compliance.errors import InputError

_INTERVAL = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    """'90s', '30m', '24h' or '7d' in seconds; at least one second."""
    m = _INTERVAL.match(text.strip())
    if not m or int(m[1]) == 0:
        raise InputError(f"interval '{text}' is not a positive number with s, m, h or d "
                         "(e.g. 24h)", column="every")
    return int(m[1]) * _UNIT[m[2]]


def run_every(job: Callable[[], None], seconds: int, max_runs: int = 0,
              sleep: Callable[[float], None] = time.sleep) -> int:
    """Run `job` now and then every `seconds` (measured start to start); `max_runs` 0 means
    until interrupted. Returns the number of runs."""
    runs = 0
    while True:
        started = time.monotonic()
        job()
        runs += 1
        if max_runs and runs >= max_runs:
            return runs
        sleep(max(0.0, seconds - (time.monotonic() - started)))
