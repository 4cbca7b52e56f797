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
# stands before it, and the greedy repeat runs to its end.
LONG_CHAIN = re.compile(r"(?=[0-9])(?<![0-9])(?<![0-9][ -])[0-9](?:[ -]?[0-9]){12,}")
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


def chains(text: str) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """Each chain of at least 13 digits as (start, group spans); a group that touches a
    letter outside the chain (`SF1234…`) is dropped from its end."""
    for m in LONG_CHAIN.finditer(text):
        raw = m.group()
        spans = ([(m.start(), m.end())] if " " not in raw and "-" not in raw
                 else [(g.start(), g.end()) for g in _GROUP.finditer(text, m.start(), m.end())])
        if m.start() > 0 and text[m.start() - 1] in _ALNUM:
            spans = spans[1:]
        if m.end() < len(text) and text[m.end()] in _ALNUM:
            spans = spans[:-1]
        if spans:
            yield m.start(), spans


def inside_card(text: str, start: int, end: int) -> bool:
    """Whether the digits in [start, end) are only part of a card-shaped stretch of the
    chain around them (`0755 8654 3210` inside `6222 0755 8654 3210`)."""
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
        if s <= start and end <= e and (s, e) != (start, end):
            return True
    return False
