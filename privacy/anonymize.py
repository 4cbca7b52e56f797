"""Anonymization operators applied to detected spans: mask, redact, keyed pseudonym,
AES-256-GCM encryption. Pure over (text, findings); keys come from the caller.

Presidio-anonymizer's `hash` salts randomly (since 2.2.361) and its `encrypt` is AES-CBC;
pseudonyms here are HMAC-SHA256 under a brand key (stable joins, no linkage across brands)
and encryption is authenticated (GCM), so a tampered value fails to decrypt.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import Finding
from privacy.detection.service import ProgressFn, process_jsonl
from privacy.pii import mask_text
from privacy.pseudonym import Pseudonymizer

Operator = Callable[[str, Finding], str]
OPERATORS = ("mask", "redact", "pseudonym", "encrypt")


def mask(value: str, f: Finding) -> str:
    return mask_text(value, keep=2 if len(value) >= 8 else 1)


def redact(value: str, f: Finding) -> str:
    return f"<{f.type}>"


@dataclass(frozen=True)
class PseudonymOperator:
    pseudonymizer: Pseudonymizer

    def __call__(self, value: str, f: Finding) -> str:
        return f"<{f.type}:{self.pseudonymizer(value)[:16]}>"


@dataclass(frozen=True)
class EncryptOperator:
    """AES-256-GCM with a random 96-bit nonce; output `enc:` + base64(nonce||ciphertext)."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")

    def __call__(self, value: str, f: Finding) -> str:
        nonce = os.urandom(12)
        ct = AESGCM(self.key).encrypt(nonce, value.encode(), f.type.encode())
        return "enc:" + base64.urlsafe_b64encode(nonce + ct).decode()

    def decrypt(self, token: str, entity_type: str) -> str:
        raw = base64.urlsafe_b64decode(token.removeprefix("enc:"))
        return AESGCM(self.key).decrypt(raw[:12], raw[12:], entity_type.encode()).decode()


def make_operator(name: str, *, brand_id: str = "default", key: bytes | None = None) -> Operator:
    from privacy.keys import derive_key

    if name == "mask":
        return mask
    if name == "redact":
        return redact
    if name == "pseudonym":
        return PseudonymOperator(Pseudonymizer.for_brand(brand_id, key))
    if name == "encrypt":
        return EncryptOperator(derive_key("field-encryption", brand_id, key))
    raise ValueError(f"unknown operator '{name}' (choose from {', '.join(OPERATORS)})")


def apply(text: str, findings: Sequence[Finding], operator: Operator) -> str:
    """Replace every finding (non-overlapping, as the scanner returns them), right to left
    so earlier offsets stay valid."""
    out = text
    for f in sorted(findings, key=lambda x: x.start, reverse=True):
        out = out[:f.start] + operator(text[f.start:f.end], f) + out[f.end:]
    return out


def redact_jsonl(inp: Path, out: Path, scanner: PiiScanner, operator: Operator,
                 progress: ProgressFn | None = None) -> int:
    return process_jsonl(inp, out, scanner, lambda rid, text, fs: {
        "id": rid, "text": apply(text, fs, operator),
        "entities": [f.as_dict() for f in fs]}, progress)
