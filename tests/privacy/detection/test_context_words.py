"""Identifiers whose shape alone is not enough: ten bare digits (a North American number)
and twelve (a Maestro card) are read only where the clause says phone or card."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.check_digits import luhn_valid
from privacy.detection.analyzer import PiiScanner

pytestmark = [pytest.mark.unit, pytest.mark.xdist_group("pii-recognizers")]
SCANNER = PiiScanner()


def found(text: str) -> set[tuple[str, str]]:
    return {(f.type, text[f.start:f.end]) for f in SCANNER.scan(text)}


@pytest.mark.parametrize("text", [
    "Text Joshua Diaz at 3838016613 when ready.",
    "Text Christopher Montgomery at 3838016613 when ready.",
    "Hi, this is Ian Davis. Reach me on 9014960376 or carrie12@example.net.",
    "You can call me at 4155550132 after six.",
])
def test_a_bare_ten_digit_us_number_is_a_phone_where_the_clause_says_so(text: str) -> None:
    number = next(w.strip(".,") for w in text.split() if w.strip(".,").isdigit())
    assert ("PHONE_NUMBER", number) in found(text)


@pytest.mark.parametrize("text", [
    "4155550132", "order 4155550132 shipped", "SKU 4155550132 in stock",
    "Texted them. Batch 4155550132 left today.",
    "Call 1800 if lost. 4155550132 units sold.",
])
def test_a_bare_ten_digit_number_without_a_phone_word_in_its_clause_is_not(text: str) -> None:
    assert not any(t == "PHONE_NUMBER" for t, _ in found(text))


def _maestro(prefix: str, body: str) -> str:
    digits = (prefix + body)[:11]
    return next(digits + d for d in "0123456789" if luhn_valid(digits + d))


@given(prefix=st.sampled_from(["5018", "5038", "56", "57", "58", "6304", "6759", "6763"]),
       body=st.text("0123456789", min_size=10, max_size=10),
       frame=st.sampled_from(["paid with card {} yesterday", "卡号{}已绑定", "card: {}"]))
@settings(max_examples=60, deadline=None)
def test_a_twelve_digit_maestro_card_is_found_next_to_a_card_word(prefix: str, body: str,
                                                                   frame: str) -> None:
    card = _maestro(prefix, body)
    assert ("BANK_CARD", card) in found(frame.format(card))


@given(prefix=st.sampled_from(["5038", "56", "6759"]),
       body=st.text("0123456789", min_size=10, max_size=10))
@settings(max_examples=40, deadline=None)
def test_twelve_digits_are_no_card_without_a_card_word_or_with_a_bad_check_digit(
        prefix: str, body: str) -> None:
    card = _maestro(prefix, body)
    wrong = card[:-1] + next(d for d in "0123456789" if not luhn_valid(card[:-1] + d))
    assert not any(t == "BANK_CARD" for t, _ in found(f"order {card} shipped"))
    assert not any(t == "BANK_CARD" for t, _ in found(f"paid with card {wrong} yesterday"))
