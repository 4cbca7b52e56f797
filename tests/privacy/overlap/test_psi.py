"""The DH-PSI math (`privacy.overlap.psi`): what two parties find in common is exactly the
plain intersection of their keys, in any shapes; and E.164 normalization joins layouts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.overlap.psi import (
    Blinder,
    PsiError,
    hash_to_point,
    intersection_size,
    matches,
    normalize_phone,
    points,
    shuffled,
)

pytestmark = pytest.mark.unit
KEYS = st.sets(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), max_size=40)


@settings(max_examples=40, deadline=None)
@given(a=KEYS, b=KEYS, shared=KEYS, run=st.text(min_size=1, max_size=8))
def test_psi_finds_exactly_the_plain_intersection(a: set[str], b: set[str], shared: set[str],
                                                  run: str) -> None:
    xs, ys = sorted(a | shared), sorted(b | shared)
    ka, kb = Blinder.derive(b"A" * 32, run), Blinder.derive(b"B" * 32, run)
    pa, pb = ka.blind_keys(xs), shuffled(kb.blind_keys(ys))
    ab, ba = kb.blind(points(pa)), ka.blind(points(pb))  # each side's second blinding
    assert intersection_size(ab, ba) == len(set(xs) & set(ys))
    hits = matches(ab, ba)  # the requester's rows keep their order
    assert {k for k, h in zip(xs, hits, strict=True) if h} == set(xs) & set(ys)


def test_singly_blinded_points_do_not_match_across_parties_or_runs() -> None:
    keys = ["+8613812345678", "+8613912345678"]
    one = Blinder.derive(b"A" * 32, "r1").blind_keys(keys)
    assert intersection_size(one, Blinder.derive(b"B" * 32, "r1").blind_keys(keys)) == 0
    assert intersection_size(one, Blinder.derive(b"A" * 32, "r2").blind_keys(keys)) == 0
    assert not np.isin(one.view("V32").ravel(),
                       np.frombuffer(b"".join(hash_to_point(k) for k in keys), "V32")).any()


def test_low_order_points_and_wrong_shapes_are_refused() -> None:
    with pytest.raises(PsiError):
        Blinder.derive(b"A" * 32, "r").blind([bytes(32)])  # u = 0 has order 1
    with pytest.raises(PsiError):
        list(points(np.zeros((2, 16), np.uint8)))


@pytest.mark.parametrize("raw", ["138 1234 5678", "+86 138-1234-5678", "8613812345678",
                                 "(+86) 13812345678"])
def test_phone_layouts_normalize_to_one_e164(raw: str) -> None:
    assert normalize_phone(raw, "CN") == "+8613812345678"


def test_invalid_phone_has_no_key() -> None:
    assert normalize_phone("12345", "CN") is None
    assert normalize_phone(float("nan"), "CN") is None
