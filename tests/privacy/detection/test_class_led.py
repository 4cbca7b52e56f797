"""`class_led` patterns match exactly what their look-ahead-led form matches."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.detection.entities import NA, NB, class_led, led_matches

PATTERNS = [
    ("EGPSD", NB + r"(?:(?P<ordinary>E[A-HJ-NP-Z]\d{7}|[EG]\d{8})|[PSD]E?\d{7}|[SD]\d{8})" + NA),
    ("56", NB + r"(?<![0-9][ -])(?:5[0678]|6304)[0-9]*(?<=(?<![0-9])[0-9]{12})" + NA),
    ("MD", r"(?<![A-Za-z])(?:Mr|Dr)\.?\s+((?:[A-Z][a-z]+\s+)?[A-Z][a-z]+)(?![A-Za-z])"),
    ("王欧", r"(?=(欧阳|[王欧])[\u4e00-\u9fff])"),  # zero-width, as the surname walk's
]
texts = st.text(alphabet="EGPSD56012345678 -MrDr.SmithJones王欧阳芳和", max_size=60)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(0, 10))
def test_matches_are_those_of_the_look_ahead_form(text: str, lo: int) -> None:
    for lead, pattern in PATTERNS:
        plain = re.compile(f"(?=[{lead}])(?:{pattern})")
        want = [(m.start(), m.end(), m.groups()) for m in plain.finditer(text, lo)]
        got = [(a, b, m.groups()[:-1]) for a, b, m in led_matches(class_led(lead, pattern),
                                                                  text, lo)]
        assert got == want


def test_a_match_inside_an_earlier_one_is_not_read() -> None:
    rx = class_led("E", r"E[E0-9]{2}")  # EE1E: E1E starts inside EE1
    assert [(a, b) for a, b, _ in led_matches(rx, "EE1E EE2")] == [(0, 3), (5, 8)]
