"""Is there a font that covers Chinese? The PDF report is bilingual on every page, and
without a CJK font WeasyPrint draws boxes and logs one `.notdef` warning per string (hundreds
per report) while the command still succeeds. Asked of fontconfig, the font catalogue
WeasyPrint itself reads through Pango, so the answer matches what the PDF will get."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

log = logging.getLogger("comity.report")

CJK_FONT_PACKAGE = "fonts-noto-cjk"
CJK_FONT_FIX = (f"no installed font covers Chinese, so Chinese text in the PDF report shows as "
                f"boxes; install one: apt-get install {CJK_FONT_PACKAGE} (Debian/Ubuntu), "
                "or any font that `fc-list :lang=zh` then lists")


@cache
def cjk_fonts() -> tuple[str, ...]:
    """Families fontconfig lists for Chinese (`fc-list :lang=zh family`); empty when none,
    or when fontconfig's command is missing (then Pango finds none either, in practice)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, ":lang=zh", "family"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(sorted({line.split(",")[0].strip() for line in out.splitlines()
                         if line.strip()}))


class _NotdefFilter(logging.Filter):
    """Counts and drops WeasyPrint's per-string `.notdef glyph` warnings."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(".notdef glyph"):
            self.dropped += 1
            return False
        return True


@contextmanager
def missing_glyphs_said_once() -> Iterator[None]:
    """Around a PDF render: WeasyPrint's `.notdef` warnings are replaced by one line that
    says what is missing and how to fix it (the CJK font package), if any glyph was missing."""
    weasy = logging.getLogger("weasyprint")
    notdef = _NotdefFilter()
    weasy.addFilter(notdef)
    try:
        yield
    finally:
        weasy.removeFilter(notdef)
    if notdef.dropped:
        fix = CJK_FONT_FIX if not cjk_fonts() else "a font lacks some characters"
        log.warning("PDF report: %d strings drawn with missing glyphs: %s", notdef.dropped,
                    fix)
