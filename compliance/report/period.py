"""Report periods: a year (2026), a quarter (2026-Q3) or a month (2026-09), in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from compliance.errors import InputError

_PERIOD = re.compile(r"([0-9]{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?")  # ASCII digits only
# Years a period can name: its end (the next year's 1 January) must still be a date.
FIRST_YEAR, LAST_YEAR = 1, 9998


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime  # exclusive

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat()}


def parse_period(text: str) -> Period:
    """A malformed period, or a year whose period does not end inside the calendar (0000,
    9999), is an `InputError` naming the field, never a crash."""
    m = _PERIOD.fullmatch(text.strip())
    if not m:
        raise InputError(f"period '{text[:40]}' is not YYYY, YYYY-Qn or YYYY-MM",
                         column="period")
    year = int(m[1])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(f"year {m[1]} is outside {FIRST_YEAR:04d}-{LAST_YEAR}",
                         column="period")
    if m[2]:
        first = 3 * (int(m[2]) - 1) + 1
        months = 3
    elif m[3]:
        first, months = int(m[3]), 1
    else:
        first, months = 1, 12
    start = datetime(year, first, 1, tzinfo=UTC)
    nxt = first - 1 + months
    end = datetime(year + nxt // 12, nxt % 12 + 1, 1, tzinfo=UTC)
    return Period(text.strip(), start, end)


def bucket_label(at: datetime, weekly: bool = False) -> str:
    """The trend bucket of a moment: its month ('2026-09'), or for short windows the Monday
    of its ISO week ('2026-09-14')."""
    if weekly:
        monday = at.date().toordinal() - at.weekday()
        return datetime.fromordinal(monday).date().isoformat()
    return f"{at.year:04d}-{at.month:02d}"
