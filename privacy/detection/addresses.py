"""Postal addresses.

Chinese: the administrative hierarchy (province, prefecture city, district/county,
town/street office) followed by road + number or a residential compound, then building,
unit and room — the structure of GB/T 23705-2009 address coding. At least two levels, or
one level with address context (地址, 收货, 寄到…), make an address.
English: house number, street name and a street-type word, optionally unit, city, state
and ZIP (USPS Publication 28 layout).
"""

from __future__ import annotations

import re

from privacy.detection.context import window
from privacy.detection.entities import ADDRESS, Finding, windows

_H = r"[\u4e00-\u9fff]"
_NUM = r"[0-9０-９一二三四五六七八九十百零〇]"
PROVINCE = (r"(?:(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|"
            r"江西|山东|"
            r"河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾)省?|内蒙古(?:自治区)?|"
            r"广西(?:壮族自治区)?|西藏(?:自治区)?|宁夏(?:回族自治区)?|新疆(?:维吾尔自治区)?|"
            r"香港(?:特别行政区)?|澳门(?:特别行政区)?)")
CITY = rf"{_H}{{2,5}}?(?:市|自治州|地区|盟)"
DISTRICT = rf"{_H}{{1,5}}?(?:区|县|旗|市)"
TOWN = rf"{_H}{{1,6}}?(?:镇|乡|街道)"
ROAD = (rf"[\u4e00-\u9fff0-9A-Za-z]{{1,10}}?(?:大街|大道|路|街|道|巷|弄|胡同|里)"
        rf"(?:[东西南北中]段|[东西南北])?(?:{_NUM}+(?:号|弄|巷))?")
COMPOUND = rf"{_H}{{2,8}}?(?:小区|花园|大厦|广场|公寓|新村|家园|苑|中心|园区|村)"
EXTRA = (rf"(?:{_NUM}+|[A-Za-z]\d*)(?:号楼|号院|栋|幢|座|单元|楼|层|室|号|户)"
         rf"|(?:{_NUM}+|[A-Za-z])?(?:-\d+)+(?:室|号)?")
ZH_ADDRESS = re.compile(
    rf"(?P<prov>{PROVINCE})?(?P<city>{CITY})?(?P<dist>{DISTRICT})?(?P<town>{TOWN})?"
    rf"(?P<place>(?:{ROAD})(?:{COMPOUND})?|{COMPOUND})(?P<extra>(?:{EXTRA})*)"
)
LEAD_TRIM = "在到于是往寄送住址为从去来的"
ZH_CONTEXT = ("地址", "住址", "收货", "寄到", "送到", "送至", "寄往", "住在", "位于", "家住",
              "配送", "邮寄", "address")

STREET_TYPES = (r"Street|Avenue|Road|Drive|Lane|Boulevard|Way|Court|Place|Terrace|Parkway|"
                r"Highway|Circle|Square|(?:St|Ave|Rd|Dr|Ln|Blvd|Ct|Pl|Ter|Pkwy|Hwy|Cir|Sq)\.?")
# The first digit before its look-behind: a leading class lets the engine skip ahead.
EN_ADDRESS = re.compile(
    rf"\d(?<![\w-]\d)\d{{0,5}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){{1,4}}"
    rf"(?:{STREET_TYPES})(?![A-Za-z])"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|#)\.?\s*#?\w+)?"
    r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2})?"
    r"(?:,\s*[A-Z]{2})?(?:,?\s+\d{5}(?:-\d{4})?)?"
)


def _trim_lead(text: str, start: int, first_end: int) -> int:
    """The lazy city/district pattern can swallow words before the place name
    ('地址是北京市', '寄到杭州市'): start after the last context word or a known province."""
    head = text[start:first_end]
    p = re.search(PROVINCE, head)
    if p and p.start() > 0:
        return start + p.start()
    cut = 0
    for w in (*ZH_CONTEXT, "是", "为", "到", "至", "往", "在", "于", "住"):
        k = head.rfind(w)
        if k >= 0 and len(head) - (k + len(w)) >= 3:
            cut = max(cut, k + len(w))
    return start + cut


ANCHOR = re.compile(r"大街|大道|路|街|道|巷|弄|胡同|里|小区|花园|大厦|广场|公寓|新村|家园|苑|中心|"
                    r"园区|村")
REACH_BACK, REACH_AHEAD = 40, 48


class ChineseAddressFinder:
    name = "zh_address"
    entities = (ADDRESS,)

    def find(self, text: str) -> list[Finding]:
        out = []
        for lo, hi in windows(text, ANCHOR, REACH_BACK, REACH_AHEAD):
            out.extend(self._find_in(text, lo, hi))
        return out

    def _find_in(self, text: str, lo: int, hi: int) -> list[Finding]:
        out = []
        for m in ZH_ADDRESS.finditer(text, lo, hi):
            start, end = m.start(), m.end()
            levels = sum(bool(m.group(g)) for g in ("prov", "city", "dist", "town"))
            place = m.group("place") or ""
            numbered = bool(re.search(rf"{_NUM}+(?:号|弄|巷)", place)) or bool(m.group("extra"))
            if not m.group("prov"):
                start = _trim_lead(text, start, m.end("city") if m.group("city")
                                   else m.end("dist") if m.group("dist") else start)
            pre, _ = window(text, start, end, before=8)
            context = any(w in pre for w in ZH_CONTEXT)
            if levels >= 2 or (levels == 1 and (numbered or context)) or (numbered and context):
                score = 0.85 if levels >= 2 or numbered else 0.65
                out.append(Finding(start, end, ADDRESS, score, self.name))
        return out


class EnglishAddressFinder:
    name = "en_address"
    entities = (ADDRESS,)

    def find(self, text: str) -> list[Finding]:
        return [Finding(m.start(), m.end(), ADDRESS, 0.8, self.name)
                for m in EN_ADDRESS.finditer(text)]
