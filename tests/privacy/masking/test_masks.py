from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from privacy.masking.masks import mask, mask_bank_card, mask_phone, mask_resident_id


def test_the_documents_examples() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_resident_id("11010119900307123X") == "110101********123X"
    assert mask_resident_id("110101900307123") == "110101******123"
    assert mask_bank_card("6222 0212 3456 7890 123") == "*" * 15 + "0123"
    assert mask("email", "zhang.san@example.cn") == "z***@example.cn"
    assert mask("name", "张三丰") == "张**"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_phone_keeps_only_its_first_3_and_last_4_digits(phone: str) -> None:
    m = mask_phone(phone)
    assert m == phone[:3] + "****" + phone[-4:]


@given(st.from_regex(r"[1-6][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9])[0-9]{3}[0-9X]",
                     fullmatch=True))
def test_a_resident_id_never_shows_its_birth_date(rid: str) -> None:
    m = mask_resident_id(rid)
    assert len(m) == 18 and m[6:14] == "*" * 8 and m[:6] == rid[:6] and m[-4:] == rid[-4:]


@given(st.from_regex(r"[0-9]{16,19}", fullmatch=True))
def test_a_bank_card_shows_its_last_4_only(card: str) -> None:
    m = mask_bank_card(card)
    assert m[-4:] == card[-4:] and set(m[:-4]) == {"*"}
