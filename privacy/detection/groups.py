"""Digit groups: how numbers that stand next to each other are read apart.

Numbers are written in groups joined by one space or dash (`4111 1111 1111 1111`,
`138-1234-5678`), and separate numbers stand next to each other the same way (`客户年龄 35
13812345678`). A run of such groups is a *chain*; which groups belong to one number is read
from the layouts issuers print: ISO/IEC 7812 cards in fours (16 digits; 19 as 4-4-4-4-3), Amex
4-6-5, Diners 4-6-4, UnionPay 6-13, or one unbroken group of 13-19 digits. Any other chain
is several numbers, and each may be found on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A whole chain of at least 13 digits (the shortest card): it starts where no digit group
# stands before it, and the greedy repeat runs to its end. The first digit is matched before
# the look-behinds (which then see it too), so that the engine's fast scan for a leading
# character class skips the text between digits.
LONG_CHAIN = re.compile(r"[0-9](?<![0-9][0-9])(?<![0-9][ -][0-9])(?:[ -]?[0-9]){12,}")
CARD_LAYOUTS = frozenset({(4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 4),
                          (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (6, 13), (4, 4, 5)})
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_GROUP = re.compile(r"[0-9]+")
_SEPS = " -"


def card_layout(lengths: tuple[int, ...]) -> bool:
    """Group lengths as a card is printed: one unbroken 13-19 digit group, or a known layout."""
    if len(lengths) == 1:
        return 13 <= lengths[0] <= 19
    return lengths in CARD_LAYOUTS


def card_stretches(lengths: list[int]) -> list[tuple[int, int]]:
    """Group ranges (first, last) laid out like a card and not inside a longer such range:
    in `35 4111 1111 1111 1111` the four last groups; in `6222 0212 3456 7890 128` all five,
    never the first four alone."""
    if len(lengths) == 1:
        return [(0, 0)] if 13 <= lengths[0] <= 19 else []
    found = []
    for i in range(len(lengths)):
        total = 0
        for j in range(i, len(lengths)):
            total += lengths[j]
            if total > 19:
                break
            if total >= 13 and card_layout(tuple(lengths[i:j + 1])):
                found.append((i, j))
    return [(i, j) for i, j in found
            if not any(a <= i and j <= b and (a, b) != (i, j) for a, b in found)]


def card_candidates(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of every card-shaped stretch of every chain of 13+ digits; a
    group that touches a letter outside its chain (`SF1234…`) is never part of one."""
    n = len(text)
    for m in LONG_CHAIN.finditer(text):
        start, end = m.span()
        raw = m.group()
        dirty_left = start > 0 and text[start - 1] in _ALNUM
        dirty_right = end < n and text[end] in _ALNUM
        if " " not in raw and "-" not in raw:  # unbroken: the common case, no splitting
            if end - start <= 19 and not dirty_left and not dirty_right:
                yield start, end, raw
            continue
        spans = [(g.start(), g.end()) for g in _GROUP.finditer(text, start, end)]
        if dirty_left:
            spans = spans[1:]
        if dirty_right:
            spans = spans[:-1]
        for a, b in card_stretches([e - s for s, e in spans]):
            yield spans[a][0], spans[b][1], "".join(text[s:e] for s, e in spans[a:b + 1])


def known_issuer(d: str) -> bool:
    """Visa 4; Mastercard 51-55, 2221-2720; Amex 34/37; JCB 3528-3589 and the 15-digit
    2131/1800; Discover 6011/65/644-649; UnionPay 62 and 81; Diners 36/38, 300-305 and 3095;
    Maestro 50/56-58/6."""
    two, three, four = int(d[:2]), int(d[:3]), int(d[:4])
    return (d[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37, 36, 38)
            or 3528 <= four <= 3589 or d.startswith(("6011", "65", "62", "81"))
            or 644 <= three <= 649 or two in (50, 56, 57, 58) or 300 <= three <= 305
            or four == 3095 or (len(d) == 15 and four in (2131, 1800)))


def overlaps_card(text: str, start: int, end: int) -> bool:
    """Whether the digits in [start, end) share a group with a card-shaped stretch of the
    chain around them that starts like a card (a known issuer), other than exactly them:
    `0755 8654 3210` inside `6222 0755 8654 3210`, `130 2221 0000` in `130 2221 0000 0000
    0009`. A reader takes such a chain for a card (mistyped or not), not for a phone."""
    lo, hi = start, end
    while lo >= 2 and text[lo - 1] in _SEPS and text[lo - 2].isascii() and text[lo - 2].isdigit():
        lo -= 2
        while lo > 0 and text[lo - 1].isascii() and text[lo - 1].isdigit():
            lo -= 1
    while hi + 1 < len(text) and text[hi] in _SEPS and text[hi + 1].isascii() \
            and text[hi + 1].isdigit():
        hi += 2
        while hi < len(text) and text[hi].isascii() and text[hi].isdigit():
            hi += 1
    if (lo, hi) == (start, end):
        return False
    spans = [(g.start(), g.end()) for g in _GROUP.finditer(text, lo, hi)]
    for i, j in card_stretches([e - s for s, e in spans]):
        s, e = spans[i][0], spans[j][1]
        if s < end and start < e and (s, e) != (start, end) and known_issuer(
                "".join(text[a:b] for a, b in spans[i:j + 1])):
            return True
    return False
