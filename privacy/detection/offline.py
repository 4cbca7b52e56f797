"""tldextract, which Presidio's e-mail recognizer calls, fetches the Public Suffix List
over the network on first use. Point it at the snapshot bundled with the package instead."""

from __future__ import annotations

import tldextract
import tldextract.tldextract as _tld

OFFLINE_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def make_tldextract_offline() -> None:
    """Replace the module-level extractor (used by `tldextract.extract`) process-wide."""
    _tld.TLD_EXTRACTOR = OFFLINE_EXTRACT
    tldextract.extract = OFFLINE_EXTRACT  # type: ignore[assignment]
