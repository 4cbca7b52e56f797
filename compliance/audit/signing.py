"""Ed25519 signatures over audit checkpoints (RFC 8032): the signed message and its check,
and the signed tree head that brands witness. The private key is the coordinator's and is
handed in by whoever signs (`privacy.keys.audit_signing_key`); verifying needs only the public
key. Pure (no I/O): a brand node checks the coordinator's heads with this same code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKPOINT_DOMAIN = "comity-audit-checkpoint/1"
# v2 also signs the RFC 6962 head of the whole log (tree_size, tree_root), so that a witness
# can ask for consistency proofs between any two checkpoints.
TREE_HEAD_DOMAIN = "comity-audit-checkpoint/2"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def checkpoint_message(first: int, last: int, head_hash: str, merkle_root: str,
                       tree_size: int | None = None, tree_root: str | None = None) -> bytes:
    """The signed bytes: v1 (the range alone) for checkpoints made before tree heads, v2 when
    the checkpoint carries the head of the whole log."""
    if tree_root is None:
        return f"{CHECKPOINT_DOMAIN}|{first}|{last}|{head_hash}|{merkle_root}".encode()
    return (f"{TREE_HEAD_DOMAIN}|{first}|{last}|{head_hash}|{merkle_root}|{tree_size}|"
            f"{tree_root}").encode()


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head (RFC 6962 §3.5 in spirit): the RFC 6962 Merkle root over audit
    events 1..tree_size, with the checkpoint's range fields, signed together."""

    tree_size: int
    tree_root: str
    first_seq: int
    last_seq: int
    head_hash: str
    merkle_root: str
    signature: str
    public_key: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TreeHead:
        """From the API's JSON; ValueError names the field that is missing or malformed."""
        values: dict[str, Any] = {}
        for name, kind in (("tree_size", int), ("first_seq", int), ("last_seq", int),
                           ("tree_root", str), ("head_hash", str), ("merkle_root", str),
                           ("signature", str), ("public_key", str)):
            value = raw.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"signed tree head: '{name}' missing or not {kind.__name__}")
            values[name] = value
        for name in ("tree_root", "head_hash", "merkle_root", "public_key"):
            if not _HEX64.match(values[name]):
                raise ValueError(f"signed tree head: '{name}' is not 64 hex characters")
        if values["tree_size"] < 1:
            raise ValueError("signed tree head: 'tree_size' must be positive")
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> bytes:
        return checkpoint_message(self.first_seq, self.last_seq, self.head_hash,
                                  self.merkle_root, self.tree_size, self.tree_root)

    def signed_by(self, public_hex: str) -> bool:
        """Signed by `public_hex` (the key a witness pinned, not the one the head names)."""
        return verify_signature(public_hex, self.signature, self.message())


def verify_signature(public_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False
