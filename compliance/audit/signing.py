"""Ed25519 signatures over audit checkpoints (RFC 8032): the signed message and its check.
The private key is the coordinator's and is handed in by whoever signs
(`privacy.keys.audit_signing_key`); verifying needs only the public key kept beside each
checkpoint."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKPOINT_DOMAIN = "comity-audit-checkpoint/1"


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
