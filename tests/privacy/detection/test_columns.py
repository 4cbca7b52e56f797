"""Column classification on messy tables: mixed columns, mostly empty columns, numbers that
lost their leading zero, and code columns that look like identifiers."""

from __future__ import annotations

import pandas as pd
import pytest

from privacy.detection.analyzer import PiiScanner
from privacy.detection.table import classify_columns


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner()


def kinds(frame: pd.DataFrame, scanner: PiiScanner) -> dict[str, str | None]:
    return {c.column: c.pii_type for c in classify_columns(frame, scanner)}


def test_a_landline_column_stored_as_numbers_is_still_a_phone_column(
        scanner: PiiScanner) -> None:
    frame = pd.DataFrame({"固话": ["1062345678", "2161234567", "75512345678"] * 10,
                          "tel": ["1062345678", "57112345678", "2087654321"] * 10})
    assert kinds(frame, scanner) == {"固话": "PHONE_NUMBER", "tel": "PHONE_NUMBER"}


def test_member_numbers_amounts_and_postcodes_are_not_pii(scanner: PiiScanner) -> None:
    frame = pd.DataFrame({"会员编号": [str(10_000_000 + 7919 * i) for i in range(30)],
                          "amount": [f"{13.5 * i:.2f}" for i in range(30)],
                          "邮编": [str(100000 + 37 * i) for i in range(30)]})
    assert kinds(frame, scanner) == {"会员编号": None, "amount": None, "邮编": None}


def test_a_mostly_empty_card_column_is_judged_on_its_filled_cells(scanner: PiiScanner) -> None:
    cards = ["6222020200112233446", "4000114636080206634"]
    frame = pd.DataFrame({"银行卡": [cards[i % 2] if i % 12 == 0 else "" for i in range(120)]})
    assert kinds(frame, scanner) == {"银行卡": "BANK_CARD"}


def test_a_mixed_contact_column_takes_its_dominant_type(scanner: PiiScanner) -> None:
    values = ["13812345678", "ann.lee@example.com", "13987654321", "13700001111"] * 8
    assert kinds(pd.DataFrame({"联系方式": values}), scanner) == {"联系方式": "PHONE_NUMBER"}
