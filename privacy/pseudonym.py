"""Keyed pseudonyms: HMAC-SHA256 under a per-brand key.

Presidio's stock `hash` operator salts randomly, so its output cannot join two tables;
a keyed HMAC is stable per brand key, cannot be reversed or brute-forced without the key,
and differs across brands so brands cannot link each other's customers.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from privacy.keys import derive_key, secret_file

KEY_FILE = "pseudonym.key"


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key must be at least 16 bytes")
        self._key = key

    @classmethod
    def for_brand(cls, brand_id: str, master: bytes | None = None) -> Pseudonymizer:
        """A key derived from the coordinator's master key: for pseudonyms the coordinator
        itself makes (`comity pii redact`), never for a brand's customers."""
        return cls(derive_key("pseudonym", brand_id, master))

    @classmethod
    def from_key_dir(cls, directory: Path) -> Pseudonymizer:
        """A brand node's own key (`pseudonym.key` in its key directory, made on first use):
        the coordinator never holds it, so it cannot link a pseudonym to a customer."""
        return cls(secret_file(KEY_FILE, 32, directory))

    def __call__(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:32]
