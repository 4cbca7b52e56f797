"""Subject keys: every raw identifier our recognizers know is refused, in every common
layout; every pseudonym the project's pseudonymizer makes is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from datetime import date

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.errors import InputError
from privacy.check_digits import luhn_valid, resident_id_check_digit
from privacy.detection.contact import MOBILE_SEGMENTS
from privacy.detection.documents import PROVINCE_CODES
from privacy.detection.subject_keys import pii_type, refuse_pii_subject_key
from privacy.pseudonym import Pseudonymizer

pytestmark = [pytest.mark.unit, pytest.mark.xdist_group("pii-recognizers")]
EXAMPLES = settings(max_examples=300, deadline=None)

def _n(k: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=k, max_size=k)


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from([p for p in (f"1{i:02d}" for i in range(100))
                                   if MOBILE_SEGMENTS.fullmatch(p)]))
    a, b = draw(_n(4)), draw(_n(4))
    return draw(st.sampled_from([
        f"{prefix}{a}{b}", f"{prefix} {a} {b}", f"{prefix}-{a}-{b}", f"+86{prefix}{a}{b}",
        f"+86 {prefix} {a} {b}", f"+86-{prefix}-{a}-{b}", f"0086{prefix}{a}{b}",
        f"0086 {prefix}{a}{b}", f"(+86) {prefix}{a}{b}", f"(86){prefix}{a}{b}"]))


@st.composite
def cn_landlines(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["10", "21", "20", "755", "571", "28", "371", "898"]))
    local = draw(st.sampled_from(["2", "5", "6", "8"])) + draw(_n(7 if len(area) == 2 else 6))
    return draw(st.sampled_from([
        f"0{area}{local}", f"0{area}-{local}", f"0{area} {local}", f"(0{area}) {local}",
        f"(0{area}){local}", f"+86 {area} {local}", f"+86-{area}-{local}",
        f"0{area}-{local[:-4]}-{local[-4:]}"]))


@st.composite
def foreign_phones(draw: st.DrawFn) -> str:
    """A valid number of another country (libphonenumber's example with a new subscriber
    part), as E.164 or in international format; North American ones in their own layouts."""
    region = draw(st.sampled_from(["US", "GB", "DE", "FR", "JP", "HK", "SG", "AU", "KR", "IN",
                                   "TW", "CA", "ES", "IT", "NL", "BR"]))
    ex = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert ex is not None
    national = str(ex.national_number)
    tail = draw(_n(3))
    num = phonenumbers.parse(f"+{ex.country_code}{national[:-3]}{tail}")
    if region in ("US", "CA"):
        n = str(num.national_number)
        return draw(st.sampled_from([
            f"{n[:3]}-{n[3:6]}-{n[6:]}", f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}",
            f"+1 {n[:3]} {n[3:6]} {n[6:]}", f"+1{n}", f"1-{n[:3]}-{n[3:6]}-{n[6:]}"]))
    fmt = draw(st.sampled_from([phonenumbers.PhoneNumberFormat.E164,
                                phonenumbers.PhoneNumberFormat.INTERNATIONAL]))
    out = phonenumbers.format_number(num, fmt)
    return draw(st.sampled_from([out, "00" + out[1:]]))


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = f"{draw(st.sampled_from(sorted(PROVINCE_CODES)))}{draw(_n(4))}"
    born = draw(st.dates(date(1900, 1, 1), date.today()))
    first17 = f"{region}{born:%Y%m%d}{draw(_n(3))}"
    value = first17 + resident_id_check_digit(first17)
    return draw(st.sampled_from([value, value.lower(), f"{value[:6]} {value[6:14]} {value[14:]}",
                                 f"{value[:6]}-{value[6:14]}-{value[14:]}"]))


ISSUERS = {"4": (13, 16, 19), "51": (16,), "55": (16,), "2221": (16,), "2720": (16,),
           "34": (15,), "37": (15,), "3528": (16,), "6011": (16,), "65": (16,),
           "62": (16, 17, 19), "81": (16, 19)}


@st.composite
def bank_cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(sorted(ISSUERS)))
    length = draw(st.sampled_from(ISSUERS[prefix]))
    body = prefix + draw(_n(length - len(prefix) - 1))
    card = next(body + c for c in "0123456789" if luhn_valid(body + c))
    assert luhn_valid(card)
    if length == 15:
        grouped = [f"{card[:4]} {card[4:10]} {card[10:]}", f"{card[:4]}-{card[4:10]}-{card[10:]}"]
    elif length in (16, 19):
        groups = [card[i:i + 4] for i in range(0, length, 4)]
        grouped = [" ".join(groups), "-".join(groups)]
    else:  # 13 and 17 digits are printed ungrouped
        grouped = []
    return draw(st.sampled_from([card, *grouped]))


@st.composite
def emails(draw: st.DrawFn) -> str:
    word = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
    local = draw(word) + draw(st.sampled_from(["", ".", "_", "-", "+"])) + draw(word)
    host = draw(st.lists(word, min_size=1, max_size=3))
    suffix = draw(st.sampled_from(["com", "cn", "com.cn", "net", "org", "io", "de", "co.uk",
                                   "edu.cn", "hk", "jp"]))
    address = f"{local}@{'.'.join(host)}.{suffix}"
    return draw(st.sampled_from([address, address.upper(), f"mailto-{address}"]))


RAW = st.one_of(cn_mobiles(), cn_landlines(), foreign_phones(), resident_ids(), bank_cards(),
                emails(), st.ip_addresses(v=4).map(str),
                st.ip_addresses(v=6).map(lambda ip: ip.exploded))


@EXAMPLES
@given(RAW)
def test_every_raw_identifier_is_refused_naming_the_field_never_the_value(raw: str) -> None:
    assert pii_type(raw) is not None, raw
    with pytest.raises(InputError) as info:
        refuse_pii_subject_key(raw, field="events.subject")
    assert info.value.column == "events.subject" and "events.subject" in str(info.value)
    core = raw.replace(" ", "").replace("-", "")
    assert raw not in str(info.value) and core[-6:] not in str(info.value)


@EXAMPLES
@given(key=st.binary(min_size=16, max_size=64), value=st.text(max_size=40),
       brand=st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20),
       master=st.binary(min_size=32, max_size=32))
def test_every_pseudonym_is_accepted(key: bytes, value: str, brand: str, master: bytes) -> None:
    for pseudonym in (Pseudonymizer(key)(value), Pseudonymizer.for_brand(brand, master)(value)):
        assert pii_type(pseudonym) is None
        refuse_pii_subject_key(pseudonym)


@EXAMPLES
@given(key=st.binary(min_size=16, max_size=64), value=st.binary(max_size=40))
def test_hex_and_base32_digests_are_accepted(key: bytes, value: bytes) -> None:
    full = hmac.new(key, value, hashlib.sha256).digest()
    for raw in (full, full[:16], full[:20]):
        b32 = base64.b32encode(raw).decode()
        for shown in (raw.hex(), b32, b32.rstrip("="), b32.rstrip("=").lower()):
            assert pii_type(shown) is None, shown
    assert pii_type(hashlib.sha1(value).hexdigest()) is None


def test_a_real_pseudonym_that_starts_with_a_mobile_number_is_accepted() -> None:
    """About one digest in 4,000 begins with eleven digits of a mobile number; the hex letter
    after them means it is not one."""
    pseudo = Pseudonymizer(bytes(range(32)))
    lookalike = next(p for p in map(pseudo, map(str, itertools.count()))
                     if p[:11].isdigit() and not p[11].isdigit()
                     and MOBILE_SEGMENTS.fullmatch(p[:3]))
    assert pii_type(lookalike[:11]) == "PHONE_NUMBER"
    assert pii_type(lookalike) is None


@pytest.mark.parametrize("key", ["13812345678", "11010519491231002X", "138-1234-5678",
                                 "cust_13812345678", "6222021234567890128", "010-12345678"])
def test_the_reported_keys_are_refused(key: str) -> None:
    assert pii_type(key) is not None


@pytest.mark.parametrize("key", ["a1b2c3d4e5f6a7b8", "subject000001", "pseudo0000001",
                                 "s000000000000001", "warm000000000001", "minor000minor000",
                                 "00000000000000000000000000000001", "crm-customer-00042"])
def test_ordinary_opaque_keys_are_accepted(key: str) -> None:
    assert pii_type(key) is None


def test_a_full_width_number_is_refused_too() -> None:
    assert pii_type("１３８１２３４５６７８") == "PHONE_NUMBER"
