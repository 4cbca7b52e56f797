"""Report periods: a year, a quarter or a month, and clear errors otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.unit
@pytest.mark.parametrize("text", ["9999", "0000", "9999-Q4", "9999-12", "0000-01", "２０２６",
                                  "2026-Q1\n1"])
def test_periods_outside_the_calendar_are_refused_not_crashed(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_period(text)
    assert info.value.column == "period"


@pytest.mark.unit
@settings(max_examples=300)
@given(st.one_of(st.text(max_size=12),
                 st.from_regex(r"[0-9]{4}(-Q[0-9]|-[0-9]{2})?", fullmatch=True)))
def test_any_text_is_a_period_or_an_input_error(text: str) -> None:
    try:
        p = parse_period(text)
    except InputError as exc:
        assert exc.column == "period"
        return
    assert p.start < p.end and p.label == text.strip()
