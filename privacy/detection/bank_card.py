"""Bank cards: 13-19 digits (stock Presidio stops at 17 and misses 19-digit UnionPay),
grouped or not, Luhn-valid (ISO/IEC 7812-1) and within a known issuer range."""

from __future__ import annotations

from privacy.check_digits import luhn_valid
from privacy.detection.context import adjust, has_any
from privacy.detection.documents import ORDER_CONTEXT, PROVINCE_CODES
from privacy.detection.entities import BANK_CARD, Finding
from privacy.detection.groups import card_stretches, chains

CONTEXT = ("卡号", "银行卡", "信用卡", "借记卡", "储蓄卡", "银联", "card", "visa", "mastercard",
           "unionpay", "账号", "account")


def known_issuer(d: str) -> bool:
    """Visa 4; Mastercard 51-55, 2221-2720; Amex 34/37; JCB 3528-3589; Discover 6011/65/
    644-649; UnionPay 62 and 81; Diners 36/38; Maestro 50/56-58/6."""
    two, four = int(d[:2]), int(d[:4])
    return (d[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37, 36, 38)
            or 3528 <= four <= 3589 or d.startswith(("6011", "65", "62", "81"))
            or 644 <= int(d[:3]) <= 649 or two in (50, 56, 57, 58))


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
        for _, spans in chains(text):
            for i, j in card_stretches([e - s for s, e in spans]):
                start, end = spans[i][0], spans[j][1]
                digits = "".join(text[s:e] for s, e in spans[i:j + 1])
                if not luhn_valid(digits) or not known_issuer(digits):
                    continue
                if len(digits) == 18 and _looks_like_id(digits) and not has_any(
                        text[max(0, start - 14):start].lower(), CONTEXT):
                    continue
                score = adjust(0.75, text, start, end, positive=CONTEXT,
                               negative=ORDER_CONTEXT, boost=0.25, before=14)
                out.append(Finding(start, end, BANK_CARD, score, self.name))
        return out
