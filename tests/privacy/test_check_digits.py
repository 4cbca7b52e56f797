from __future__ import annotations

import pytest

from federation.data.synthetic import generate_alliance
from privacy.check_digits import is_valid_resident_id, luhn_valid, resident_id_check_digit
from privacy.pii import Pii
from privacy.pseudonym import Pseudonymizer

pytestmark = pytest.mark.unit


def test_resident_id_check_digit_known_value() -> None:
    # GB 11643-1999 worked example
    assert resident_id_check_digit("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X")
    assert not is_valid_resident_id("110105194912310021")  # wrong check digit
    assert not is_valid_resident_id("11010519491331002X")  # month 13


def test_synthetic_identifiers_are_valid() -> None:
    silos = generate_alliance(seed=3, scale=0.1)
    ids = [i for s in silos for i in s.customers["resident_id"] if i]
    cards = [c for s in silos for c in s.customers["bank_card"] if c]
    assert ids and all(is_valid_resident_id(i) for i in ids)
    assert cards and all(luhn_valid(c) and len(c) == 19 for c in cards)


def test_pii_masks_itself_everywhere() -> None:
    p = Pii("13812345678")
    for shown in (str(p), repr(p), f"{p}", "%s" % (p,)):  # noqa: UP031 logging's style
        assert "13812345678" not in shown and "2345" not in shown
    assert p.reveal() == "13812345678"


def test_pseudonyms_are_stable_per_brand_and_differ_across_brands() -> None:
    key = bytes(range(32))
    a1 = Pseudonymizer.for_brand("a", key)
    assert a1("C1") == Pseudonymizer.for_brand("a", key)("C1")
    assert a1("C1") != Pseudonymizer.for_brand("b", key)("C1")
    assert a1("C1") != a1("C2") and len(a1("C1")) == 32
