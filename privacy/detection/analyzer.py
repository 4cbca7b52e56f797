"""The analyzer: our finders run directly (fast path) or as Presidio recognizers.

`PiiScanner` is what the CLI, the API and the table scanner use. `presidio_engine()`
(`presidio.py`) puts the very same scanner inside Presidio's AnalyzerEngine (NoOpNlpEngine:
nothing to download), for `zh` and `en`, for callers that want Presidio's interfaces; it
returns exactly the scanner's findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from privacy.detection.addresses import ChineseAddressFinder, EnglishAddressFinder
from privacy.detection.bank_card import BankCardFinder
from privacy.detection.contact import EmailFinder, IpFinder, PhoneFinder
from privacy.detection.documents import LicensePlateFinder, PassportFinder, ResidentIdFinder
from privacy.detection.entities import (
    ALL_TYPES,
    Finder,
    Finding,
    fold_width,
    resolve_overlaps,
)
from privacy.detection.names import ChineseNameFinder, EnglishNameFinder

DEFAULT_THRESHOLD = 0.5
SEPARATOR = "\x00" * 24


def default_finders() -> list[Finder]:
    """Identifiers and addresses before Chinese names: the name finder skips model work
    inside what they found (`ChineseNameFinder.find_after`)."""
    return [ResidentIdFinder(), PassportFinder(), LicensePlateFinder(), BankCardFinder(),
            PhoneFinder(), EmailFinder(), IpFinder(), EnglishNameFinder(),
            ChineseAddressFinder(), EnglishAddressFinder(), ChineseNameFinder()]


class PiiScanner:
    def __init__(self, finders: Sequence[Finder] | None = None,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")
        self.finders = list(finders) if finders is not None else default_finders()
        self.threshold = threshold

    def scan(self, text: str, entities: Iterable[str] | None = None) -> list[Finding]:
        return resolve_overlaps(self._raw(text, entities), self.threshold)

    def _raw(self, text: str, entities: Iterable[str] | None) -> list[Finding]:
        wanted = set(entities) if entities is not None else set(ALL_TYPES)
        unknown = wanted - set(ALL_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {', '.join(sorted(unknown))}")
        text = fold_width(text)
        found: list[Finding] = []
        for f in self.finders:
            if wanted.intersection(f.entities):
                after = getattr(f, "find_after", None)
                got = after(text, found) if after is not None else f.find(text)
                found.extend(x for x in got if x.type in wanted and x.score > 0)
        return found

    def scan_many(self, texts: Sequence[str], entities: Iterable[str] | None = None,
                  batch_chars: int = 200_000) -> list[list[Finding]]:
        """Scan many texts at once: they are joined with a separator no pattern can cross
        (NUL runs longer than any context window), scanned together and split back, so the
        per-call cost of each pattern is paid once per batch instead of once per text."""
        out: list[list[Finding]] = [[] for _ in texts]
        batch: list[int] = []
        size = 0
        for i, t in enumerate(texts):
            if SEPARATOR[0] in t:
                out[i] = self.scan(t, entities)
                continue
            batch.append(i)
            size += len(t) + len(SEPARATOR)
            if size >= batch_chars:
                self._scan_batch(texts, batch, out, entities)
                batch, size = [], 0
        if batch:
            self._scan_batch(texts, batch, out, entities)
        return out

    def _scan_batch(self, texts: Sequence[str], idx: list[int], out: list[list[Finding]],
                    entities: Iterable[str] | None) -> None:
        joined = SEPARATOR.join(texts[i] for i in idx)
        starts = []
        pos = 0
        for i in idx:
            starts.append(pos)
            pos += len(texts[i]) + len(SEPARATOR)
        raw: list[list[Finding]] = [[] for _ in idx]
        found = self._raw(joined, entities)
        found.sort()
        k, n = 0, len(starts)
        for f in found:  # one walk over sorted findings instead of a bisect per finding
            while k + 1 < n and starts[k + 1] <= f.start:
                k += 1
            base = starts[k]
            if f.end - base <= len(texts[idx[k]]):
                raw[k].append(Finding(f.start - base, f.end - base, f.type, f.score,
                                      f.recognizer))
        for k, i in enumerate(idx):
            out[i] = resolve_overlaps(raw[k], self.threshold)

