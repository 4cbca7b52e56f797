"""Bank cards: 13-19 digits (stock Presidio stops at 17 and misses 19-digit UnionPay),
grouped or not, Luhn-valid (ISO/IEC 7812-1) and within a known issuer range."""

from __future__ import annotations

import re

from privacy.check_digits import luhn_valid
from privacy.detection.context import adjust, has_any
from privacy.detection.documents import ORDER_CONTEXT
from privacy.detection.entities import BANK_CARD, NA, NB, Finding

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
    """An 18-digit string with a birth date in place is a (possibly invalid) ID number."""
    return d[6:8] in ("19", "20") and "01" <= d[10:12] <= "12" and "01" <= d[12:14] <= "31"


class BankCardFinder:
    name = "bank_card"
    entities = (BANK_CARD,)
    _re = re.compile(r"(?=\d)" + NB + r"\d{4}(?:[ -]?\d{2,6}){2,4}" + NA)

    def find(self, text: str) -> list[Finding]:
        out = []
        for m in self._re.finditer(text):
            raw = m.group()
            digits = raw.replace(" ", "").replace("-", "")
            if not 13 <= len(digits) <= 19 or not luhn_valid(digits) or not known_issuer(digits):
                continue
            if len(digits) == 18 and _looks_like_id(digits) and not has_any(
                    text[max(0, m.start() - 14):m.start()].lower(), CONTEXT):
                continue
            groups = re.split(r"[ -]", raw)
            if len(groups) > 1 and not (all(len(g) == 4 for g in groups[:-1])
                                        or [len(g) for g in groups] in ([4, 6, 5], [6, 13])):
                continue
            score = adjust(0.75, text, m.start(), m.end(), positive=CONTEXT,
                           negative=ORDER_CONTEXT, boost=0.25, before=14)
            out.append(Finding(m.start(), m.end(), BANK_CARD, score, self.name))
        return out
