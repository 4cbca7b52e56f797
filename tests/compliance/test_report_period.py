"""Report periods: a year, a quarter or a month, and clear errors otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compliance.errors import InputError
from compliance.report.period import parse_period


@pytest.mark.unit
@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026", (2026, 1), (2027, 1)),
    ("2026-Q3", (2026, 7), (2026, 10)),
    ("2026-Q4", (2026, 10), (2027, 1)),
    ("2026-12", (2026, 12), (2027, 1)),
])
def test_periods(text: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    p = parse_period(text)
    assert p.start == datetime(*start, 1, tzinfo=UTC) and p.end == datetime(*end, 1, tzinfo=UTC)


@pytest.mark.unit
@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "26-Q1", "last quarter"])
def test_bad_periods_name_the_field(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_period(text)
    assert info.value.column == "period"
