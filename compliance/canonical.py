"""Canonical JSON: sorted keys, no spaces, Unicode kept. The one text form the audit chain
hashes and the database stores JSON in, so that a verifier can hash stored `data` as it is
(the RFC 8785 idea, without its number rules: our numbers round-trip through Python)."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
