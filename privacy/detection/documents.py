"""Mainland identity documents and vehicle plates, validated beyond the pattern.

- Resident ID: GB 11643-1999 — province code, a real birth date, ISO 7064 MOD 11-2 check.
- Passport: ordinary passports E + 8 digits or E + letter + 7 digits (2012 e-passport),
  G + 8 digits (older); P/S/D (public affairs, service, diplomatic) only with context.
- Licence plate: GA 36-2018 — province abbreviation, issuing letter (no I/O), 5 characters,
  or 6 for new-energy plates (D/F marks battery-electric/hybrid).
"""

from __future__ import annotations

import re

from privacy.check_digits import is_valid_resident_id
from privacy.detection.context import adjust
from privacy.detection.entities import (
    CN_RESIDENT_ID,
    LICENSE_PLATE,
    NA,
    NB,
    PASSPORT,
    Finding,
    class_led,
    led_matches,
)

ORDER_CONTEXT = ("订单", "单号", "运单", "快递", "流水", "编号", "货号", "型号", "批次", "券",
                 "order", "tracking", "sku", "invoice", "ref", "serial", "model", "batch")
PRODUCT_CONTEXT = (*ORDER_CONTEXT, "商品", "产品", "款号", "货品", "item", "product", "part")
PROVINCE_CODES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                            43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
                            83, 91})


class ResidentIdFinder:
    name = "cn_resident_id"
    entities = (CN_RESIDENT_ID,)
    # The first digit before its look-behind: a leading class lets the engine skip ahead.
    _re = re.compile(r"([1-9](?<![0-9A-Za-z][1-9])\d{5})[ -]?((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
                     r"(?:0[1-9]|[12]\d|3[01]))[ -]?(\d{3}[\dXx])" + NA)
    CONTEXT = ("身份证", "证件", "公民身份", "id card", "resident id", "id no", "id number")

    def find(self, text: str) -> list[Finding]:
        out = []
        for m in self._re.finditer(text):
            value = m.group(1) + m.group(2) + m.group(3)
            if int(value[:2]) not in PROVINCE_CODES or not is_valid_resident_id(value):
                continue
            score = adjust(0.9, text, m.start(), m.end(), positive=self.CONTEXT, boost=0.1)
            out.append(Finding(m.start(), m.end(), CN_RESIDENT_ID, max(score, 0.9), self.name))
        return out


class PassportFinder:
    name = "cn_passport"
    entities = (PASSPORT,)
    # One scan for both kinds: they start with different letters and cannot overlap.
    _re = class_led("EGPSD", NB + r"(?:(?P<ordinary>E[A-HJ-NP-Z]\d{7}|[EG]\d{8})"
                    r"|[PSD]E?\d{7}|[SD]\d{8})" + NA)
    CONTEXT = ("护照", "passport", "证件", "travel document")

    def find(self, text: str) -> list[Finding]:
        out = []
        for start, end, m in led_matches(self._re, text):
            if m.group("ordinary"):
                s = adjust(0.55, text, start, end, positive=self.CONTEXT,
                           negative=PRODUCT_CONTEXT, before=16)
            else:
                s = adjust(0.2, text, start, end, positive=self.CONTEXT,
                           negative=PRODUCT_CONTEXT, boost=0.6, before=16)
            out.append(Finding(start, end, PASSPORT, s, self.name))
        return out


PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"


class LicensePlateFinder:
    name = "cn_license_plate"
    entities = (LICENSE_PLATE,)
    _re = re.compile(
        rf"[{PROVINCES}][{_L}][·•\s]?"
        rf"(?:[DF][{_L}0-9]\d{{4}}|\d{{5}}[DF]|[{_L}0-9]{{4}}[{_L}0-9挂学警港澳]){NA}"
    )

    def find(self, text: str) -> list[Finding]:
        out = []
        for m in self._re.finditer(text):
            tail = re.sub(r"[·•\s]", "", m.group())[2:]
            if sum(c.isdigit() for c in tail) < 2:  # real plates carry digits
                continue
            out.append(Finding(m.start(), m.end(), LICENSE_PLATE, 0.85, self.name))
        return out
