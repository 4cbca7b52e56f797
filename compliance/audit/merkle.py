"""Merkle tree hashing and audit paths as in RFC 6962 §2.1 (Certificate Transparency):
leaves hashed with a 0x00 prefix, interior nodes with 0x01, so leaves and nodes never
collide. Pure functions over bytes."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = [leaf_hash(x) for x in leaves]
    return _root(level)


def _root(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def audit_path(index: int, leaves: list[bytes]) -> list[str]:
    """Sibling hashes (hex) from leaf `index` up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    return [h.hex() for h in _path(index, [leaf_hash(x) for x in leaves])]


def _path(index: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*_path(index, hashes[:k]), _root(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _root(hashes[:k])]


def verify_path(leaf: bytes, index: int, size: int, path: list[str], expected_root: bytes) -> bool:
    """Recompute the root from a leaf and its audit path (RFC 6962 §2.1.1 verification)."""
    def walk(i: int, n: int, sibs: list[bytes]) -> bytes | None:
        if n == 1:
            return leaf_hash(leaf) if not sibs else None
        if not sibs:
            return None
        k = _split(n)
        sib, rest = sibs[-1], sibs[:-1]
        if i < k:
            sub = walk(i, k, rest)
            return node_hash(sub, sib) if sub is not None else None
        sub = walk(i - k, n - k, rest)
        return node_hash(sib, sub) if sub is not None else None

    got = walk(index, size, [bytes.fromhex(p) for p in path])
    return got == expected_root
