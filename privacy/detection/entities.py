"""Entity types, the Finding value and overlap resolution."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple, Protocol

PERSON = "PERSON"
CN_RESIDENT_ID = "CN_RESIDENT_ID"
PHONE_NUMBER = "PHONE_NUMBER"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
BANK_CARD = "BANK_CARD"
ADDRESS = "ADDRESS"
PASSPORT = "PASSPORT"
LICENSE_PLATE = "LICENSE_PLATE"
IP_ADDRESS = "IP_ADDRESS"

ALL_TYPES = (PERSON, CN_RESIDENT_ID, PHONE_NUMBER, EMAIL_ADDRESS, BANK_CARD, ADDRESS, PASSPORT,
             LICENSE_PLATE, IP_ADDRESS)

# Digit/letter lookarounds: Python's \b treats CJK as word characters, so \b\d{18}\b never
# matches inside 身份证号110101...; these do.
NB = r"(?<![0-9A-Za-z])"
NA = r"(?![0-9A-Za-z])"
CJK = re.compile(r"[\u4e00-\u9fff]")

# Full-width forms (U+FF01-FF5E, what a Chinese IME types in full-width mode) and the
# ideographic space fold to ASCII one for one, so offsets stay those of the original text.
# Only a full-width digit, letter or @ makes a text worth folding: full-width punctuation
# alone (，：（）) is everywhere in Chinese text and changes no identifier.
_WIDE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff20]")
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """`１３８１２３４５６７８` as `13812345678`, same length: the finders read ASCII digits
    and letters only (Unicode's fullwidth compatibility block, UAX #11)."""
    return text.translate(_FOLD) if _WIDE.search(text) else text


def class_led(lead: str, pattern: str) -> re.Pattern[str]:
    """`pattern`, every match of which begins with a character of the class `lead`, compiled
    to begin with that class. CPython's regex engine skips ahead quickly only to where a
    pattern's leading literal or class can match, never a look-around: `(?=[EG])…` is tried at
    every position, two to three times slower. Here the class is matched first and the
    pattern runs in a look-ahead at that character (the look-behind steps back onto it), its
    groups numbered as before. Read matches with `led_matches`."""
    return re.compile(f"[{lead}](?<=(?=(?:{pattern})(?P<_end>)).)")


def led_matches(rx: re.Pattern[str], text: str, pos: int = 0, endpos: int | None = None
                ) -> Iterator[tuple[int, int, re.Match[str]]]:
    """(start, end, match) of a `class_led` pattern's matches, non-overlapping and in order
    as `finditer` gives the pattern's own."""
    last = -1
    for m in rx.finditer(text, pos, len(text) if endpos is None else endpos):
        start = m.start()
        if start >= last:
            last = m.end("_end")
            yield start, last, m


def windows(text: str, anchor: re.Pattern[str], back: int, ahead: int,
            merge_gap: int = 64) -> list[tuple[int, int]]:
    """Merged stretches around the anchor's matches: expensive patterns run only there.
    Stretches closer than `merge_gap` are joined, trading a little scanning for calls."""
    spans: list[tuple[int, int]] = []
    for a in anchor.finditer(text):
        lo, hi = max(0, a.start() - back), min(len(text), a.end() + ahead)
        if spans and lo <= spans[-1][1] + merge_gap:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


class Finding(NamedTuple):
    """A detected span; a tuple so that millions are cheap to build and sort."""

    start: int
    end: int
    type: str
    score: float
    recognizer: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "start": self.start, "end": self.end,
                "score": round(self.score, 3)}


class Finder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def entities(self) -> tuple[str, ...]: ...

    def find(self, text: str) -> list[Finding]: ...


def resolve_overlaps(findings: Iterable[Finding], threshold: float) -> list[Finding]:
    """Keep findings above the threshold; where spans overlap keep the higher score, then
    the longer span (an address containing a road number beats a bare number)."""
    ranked = [f for f in findings if f.score >= threshold]
    if len(ranked) < 2:
        return ranked
    ordered = sorted(ranked)
    reach = ordered[0].end
    for f in ordered[1:]:  # most texts: a few findings, none overlapping; nothing to rank
        if f.start < reach:
            break
        reach = f.end
    else:
        return ordered
    ranked.sort(key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept)
