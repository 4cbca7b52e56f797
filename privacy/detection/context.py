"""Context words near a span raise or cancel a finding's score."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache


def window(text: str, start: int, end: int, before: int = 12, after: int = 6) -> tuple[str, str]:
    return text[max(0, start - before):start].lower(), text[end:end + after].lower()


def has_any(haystack: str, words: Sequence[str]) -> bool:
    return any(w in haystack for w in words)


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _last(pattern: re.Pattern[str], haystack: str) -> int:
    """Start of the last of the pattern's non-overlapping matches, -1 for none. Most context
    windows hold no word at all: one search answers those."""
    first = pattern.search(haystack)
    if first is None:
        return -1
    last = first.start()
    for m in pattern.finditer(haystack, first.end()):
        last = m.start()
    return last


def adjust(score: float, text: str, start: int, end: int, *, positive: Sequence[str] = (),
           negative: Sequence[str] = (), boost: float = 0.35, before: int = 12) -> float:
    """Negative context (order, tracking, SKU…) right before a span cancels it; positive
    context raises it, capped at 1.0. (Runs for every candidate of every finder: `window`
    inlined, the text after the span read only when nothing came before.)"""
    pre = text[start - before if start > before else 0:start].lower()
    neg = _last(_words(tuple(negative)), pre) if negative else -1
    pos = _last(_words(tuple(positive)), pre) if positive else -1
    if neg >= 0 and neg >= len(pre) - 8 and neg > pos:
        return 0.0  # the nearest label says order/tracking/SKU, not phone/card
    if pos >= 0 or (positive and _words(tuple(positive)).search(text[end:end + 6].lower())):
        return min(1.0, score + boost)
    return score
