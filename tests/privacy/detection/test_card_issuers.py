"""Card issuer ranges beyond the common ones (ISO/IEC 7812 IINs): Diners Club Carte Blanche
300-305 and 3095 (14 digits), JCB's 15-digit 2131 and 1800."""

from __future__ import annotations

import pytest

from privacy.check_digits import luhn_valid
from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import BANK_CARD


def with_check_digit(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.mark.parametrize("body", ["3045378383064", "3095123456789", "21313734337344",
                                  "18001234567890"])
def test_less_common_issuers_are_cards(body: str) -> None:
    card = with_check_digit(body)
    text = f"paid with card {card} yesterday"
    found = [(f.type, text[f.start:f.end]) for f in PiiScanner().scan(text)]
    assert (BANK_CARD, card) in found


def test_a_15_digit_number_from_1800_that_fails_luhn_is_not_a_card() -> None:
    card = with_check_digit("18001234567890")
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert not [f for f in PiiScanner().scan(f"ref {bad}") if f.type == BANK_CARD]
