"""The Ed25519 key that signs audit checkpoints (RFC 8032), kept in the key directory."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from privacy.keys import key_dir

CHECKPOINT_DOMAIN = "comity-audit-checkpoint/1"


def signing_key() -> Ed25519PrivateKey:
    path = key_dir() / "audit-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(32).hex())
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))


def checkpoint_message(first: int, last: int, head_hash: str, merkle_root: str) -> bytes:
    return f"{CHECKPOINT_DOMAIN}|{first}|{last}|{head_hash}|{merkle_root}".encode()


def verify_signature(public_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False
