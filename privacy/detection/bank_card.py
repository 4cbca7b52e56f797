"""Bank cards: 13-19 digits (stock Presidio stops at 17 and misses 19-digit UnionPay),
grouped or not, Luhn-valid (ISO/IEC 7812-1) and within a known issuer range; and Maestro's
12-digit cards (Maestro numbers run 12-19 digits) where the text says card."""

from __future__ import annotations

from privacy.check_digits import luhn_valid
from privacy.detection.context import adjust, has_any
from privacy.detection.documents import ORDER_CONTEXT, PROVINCE_CODES
from privacy.detection.entities import BANK_CARD, NA, NB, Finding, class_led, led_matches
from privacy.detection.groups import card_candidates, known_issuer

CONTEXT = ("卡号", "银行卡", "信用卡", "借记卡", "储蓄卡", "银联", "card", "visa", "mastercard",
           "unionpay", "账号", "account")


# Maestro's ranges (50, 56-58, 6304, 6759, 6761-6763): the only cards printed with 12 digits.
# Twelve Luhn-valid digits are one in ten of all twelve-digit numbers, so these need a card
# word near them.
MAESTRO_12 = class_led("56", NB + r"(?<![0-9][ -])(?:5[0678]|6304|6759|676[123])"
                       r"[0-9]*(?<=(?<![0-9])[0-9]{12})" + NA + r"(?![ -][0-9])")


def _looks_like_id(d: str) -> bool:
    """An 18-digit string with a province code and a birth year in place is a (possibly
    mistyped) ID number (GB 11643-1999), even when its month or day is impossible."""
    return int(d[:2]) in PROVINCE_CODES and d[6:8] in ("19", "20")


class BankCardFinder:
    """Cards are read from digit chains (`groups.py`), so a card is found after a room number
    or an age (`room 1203 6222…`, `35 4111 1111 1111 1111`) and never a stretch of a longer
    card-shaped number."""

    name = "bank_card"
    entities = (BANK_CARD,)

    def find(self, text: str) -> list[Finding]:
        out = []
        for start, end, digits in card_candidates(text):
            if not known_issuer(digits) or not luhn_valid(digits):
                continue
            if len(digits) == 18 and _looks_like_id(digits) and not has_any(
                    text[max(0, start - 14):start].lower(), CONTEXT):
                continue
            score = adjust(0.75, text, start, end, positive=CONTEXT,
                           negative=ORDER_CONTEXT, boost=0.25, before=14)
            out.append(Finding(start, end, BANK_CARD, score, self.name))
        for start, end, _m in led_matches(MAESTRO_12, text):
            if luhn_valid(text[start:end]):
                score = adjust(0.3, text, start, end, positive=CONTEXT,
                               negative=ORDER_CONTEXT, boost=0.45, before=14)
                out.append(Finding(start, end, BANK_CARD, score, self.name))
        return out
