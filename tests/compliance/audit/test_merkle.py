"""RFC 6962 Merkle trees: the cumulative tree head, and consistency proofs between two sizes of
one append-only log (RFC 6962 §2.1.2, verified as in RFC 9162 §2.1.4.2)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.audit import merkle

pytestmark = pytest.mark.unit

leaves_st = st.lists(st.binary(min_size=1, max_size=8), min_size=1, max_size=70)


@st.composite
def log_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    leaves = draw(leaves_st)
    n = draw(st.integers(1, len(leaves)))
    m = draw(st.integers(1, n))
    return leaves, m, n


def _consistent(leaves: list[bytes], m: int, n: int) -> bool:
    return merkle.verify_consistency(m, n, merkle.root(leaves[:m]), merkle.root(leaves[:n]),
                                     merkle.consistency_proof(m, leaves[:n]))


def test_known_vectors_from_rfc_6962_shapes() -> None:
    """The example of RFC 6962 §2.1.3 (its names in comments): PROOF(3, D[7]) = [c, d, g, l],
    PROOF(4, D[7]) = [l], PROOF(6, D[7]) = [i, j, k]."""
    d = [bytes([i]) for i in range(7)]
    a, b, c, dd, e, f, g = (merkle.leaf_hash(x) for x in d)
    h, i, j = merkle.node_hash(a, b), merkle.node_hash(c, dd), merkle.node_hash(e, f)
    k, ell = merkle.node_hash(h, i), merkle.node_hash(j, g)
    # RFC's g, h, i, j are h, i, j, g here (the leaves keep their letters)
    assert merkle.consistency_proof(3, d) == [x.hex() for x in (c, dd, h, ell)]
    assert merkle.consistency_proof(4, d) == [ell.hex()]
    assert merkle.consistency_proof(6, d) == [x.hex() for x in (j, g, k)]
    assert merkle.root(d) == merkle.node_hash(k, ell)


@given(leaves_st)
def test_compact_range_gives_every_prefix_root(leaves: list[bytes]) -> None:
    tree = merkle.CompactRange()
    assert tree.root() == hashlib.sha256(b"").digest() == merkle.root([])
    for i, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.size == i and tree.root() == merkle.root(leaves[:i])


@given(log_and_sizes())
def test_every_prefix_is_consistent(case: tuple[list[bytes], int, int]) -> None:
    leaves, m, n = case
    assert _consistent(leaves, m, n)


@given(log_and_sizes(), st.data())
def test_a_changed_leaf_in_the_old_tree_fails(case: tuple[list[bytes], int, int],
                                              data: st.DataObject) -> None:
    leaves, m, n = case
    i = data.draw(st.integers(0, m - 1))
    forked = [*leaves[:i], leaves[i] + b"!", *leaves[i + 1:]]
    # the coordinator proves its forked log against the head a brand saw before the fork
    proof = merkle.consistency_proof(m, forked[:n])
    assert not merkle.verify_consistency(m, n, merkle.root(leaves[:m]),
                                         merkle.root(forked[:n]), proof)
    # nor does the honest proof match the forked head
    assert not merkle.verify_consistency(m, n, merkle.root(leaves[:m]),
                                         merkle.root(forked[:n]),
                                         merkle.consistency_proof(m, leaves[:n]))


@given(log_and_sizes(), st.binary(min_size=1, max_size=8))
def test_a_different_prefix_fails(case: tuple[list[bytes], int, int], other: bytes) -> None:
    leaves, m, n = case
    prefix = [other + x for x in leaves[:m]]
    assert not merkle.verify_consistency(m, n, merkle.root(prefix), merkle.root(leaves[:n]),
                                         merkle.consistency_proof(m, leaves[:n]))


@given(log_and_sizes(), st.data())
def test_a_truncated_log_fails(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    """A head the brand saw at size n, then a shorter log claimed to extend it."""
    leaves, m, n = case
    if m == n:
        return
    cut = data.draw(st.integers(m, n - 1))
    proof = merkle.consistency_proof(m, leaves[:cut])
    assert not merkle.verify_consistency(m, n, merkle.root(leaves[:m]), merkle.root(leaves[:n]),
                                         proof)
    # and a shorter tree is never "consistent" with a longer one it claims to extend
    assert not merkle.verify_consistency(n, cut, merkle.root(leaves[:n]),
                                         merkle.root(leaves[:cut]), proof)


@given(log_and_sizes(), st.data())
def test_a_tampered_proof_fails(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    leaves, m, n = case
    proof = merkle.consistency_proof(m, leaves[:n])
    old, new = merkle.root(leaves[:m]), merkle.root(leaves[:n])
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:i], "00" * 32, *proof[i + 1:]]
        assert not merkle.verify_consistency(m, n, old, new, bad)
        assert not merkle.verify_consistency(m, n, old, new, proof[:-1])
    assert not merkle.verify_consistency(m, n, old, new, [*proof, "11" * 32])


def test_sizes_out_of_range_are_refused() -> None:
    leaves = [b"a", b"b", b"c"]
    with pytest.raises(ValueError):
        merkle.consistency_proof(4, leaves)
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, leaves)
    assert not merkle.verify_consistency(0, 3, merkle.root([]), merkle.root(leaves), [])
    assert not merkle.verify_consistency(3, 3, merkle.root(leaves), merkle.root(leaves), ["00"])
    assert merkle.verify_consistency(3, 3, merkle.root(leaves), merkle.root(leaves), [])
    assert not merkle.verify_consistency(2, 3, merkle.root(leaves[:2]), merkle.root(leaves),
                                         ["zz"])
