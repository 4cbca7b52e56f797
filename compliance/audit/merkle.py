"""Merkle tree hashing, audit paths and consistency proofs as in RFC 6962 §2.1 (Certificate
Transparency): leaves hashed with a 0x00 prefix, interior nodes with 0x01, so leaves and nodes
never collide. Pure functions over bytes; proofs travel as lists of hex strings."""

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


class CompactRange:
    """The tree head of a growing list in one pass: the roots of the perfect subtrees that
    cover the leaves so far (the "compact range" of RFC 9162 §2.1), largest first. The RFC 6962
    head of n leaves is these roots folded from the right, since MTH(D[n]) splits at the
    largest power of two below n."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, subtree root)
        self.size = 0

    def append(self, data: bytes) -> None:
        height, h = 0, leaf_hash(data)
        while self._stack and self._stack[-1][0] == height:
            h = node_hash(self._stack.pop()[1], h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        acc = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc


def consistency_proof(m: int, leaves: list[bytes]) -> list[str]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2 (hex): the fewest subtree roots that show the tree of
    the first `m` leaves is a prefix of the tree of all of `leaves`."""
    if not 0 < m <= len(leaves):
        raise ValueError(f"consistency proof needs 0 < m <= n (m={m}, n={len(leaves)})")
    return [h.hex() for h in _subproof(m, [leaf_hash(x) for x in leaves], True)]


def _subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_root(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), _root(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _root(hashes[:k])]


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes,
                       proof: list[str]) -> bool:
    """Whether `proof` shows the tree of size `m` with head `old_root` is a prefix of the tree
    of size `n` with head `new_root`: the algorithm of RFC 9162 §2.1.4.2. False (never an
    exception) for any malformed proof or sizes, so a hostile coordinator cannot crash a
    witness."""
    if not 0 < m <= n:
        return False
    try:
        path = [bytes.fromhex(p) for p in proof]
    except (TypeError, ValueError):
        return False
    if any(len(p) != 32 for p in path):
        return False
    if m == n:
        return not path and old_root == new_root
    if not path:
        return False
    if m & (m - 1) == 0:  # m a power of two: the old head is itself a node of the new tree
        path = [old_root, *path]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
