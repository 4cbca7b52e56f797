"""Phones, e-mails and IP addresses.

Phones: mainland mobiles by MIIT number-segment allocation (13x-19x), with +86/0086 and
spaces or dashes; landlines with an area code (010, 02x, 0xxx); other countries through
Google's libphonenumber port (`phonenumbers`). E-mails: RFC 5322 local part with an
offline public-suffix check. IPs: parsed by `ipaddress`, never after "v"/"version".
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import phonenumbers

from privacy.detection.context import adjust, has_any
from privacy.detection.documents import ORDER_CONTEXT
from privacy.detection.entities import (
    EMAIL_ADDRESS,
    IP_ADDRESS,
    NA,
    NB,
    PHONE_NUMBER,
    Finding,
    windows,
)
from privacy.detection.groups import overlaps_card
from privacy.detection.offline import OFFLINE_EXTRACT

PHONE_CONTEXT = ("电话", "手机", "座机", "固话", "联系", "致电", "来电", "号码", "tel", "phone",
                 "mobile", "call", "cell", "contact", "fax", "传真", "whatsapp", "微信", "text",
                 "sms", "reach me", "reach us")
# A bare North American 3-3-4 number is too common a shape to read after another number
# (`1234 555 555 1234`); mainland numbers are read there, unless a card-shaped stretch of
# digit groups holds them (`groups.overlaps_card`).
NOT_GROUPED = r"(?:(?<!\d[\s-])|(?=[+(]))"
AREA = r"(10|2\d|[3-9]\d{2})"
MOBILE_SEGMENTS = re.compile(r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])")


class PhoneFinder:
    name = "phone"
    entities = (PHONE_NUMBER,)
    _mobile = re.compile(r"(?=[+0(1])" + NB
                         + r"(?:(?:\+|00)\s?86[\s-]?|\(\+?86\)\s?)?(1\d{2})(?:\d{8}|[\s-]\d{4}"
                         r"[\s-]\d{4})" + NA)  # 11 digits or 3-4-4, never 7-4 (`1450000 2000`)
    # Area codes (YD/T 2001): 010 Beijing, 02x, 03xx-09xx; spelled out so that an unseparated
    # 01012345678 is not first read with a three-digit area 101 and dropped. A local number
    # never begins with 0, so `0300 010-2000-0000` is not read from its first group.
    _landline = re.compile(r"(?=[+(（0])" + NB
                           + r"(?:(?:\+|00)\s?86[\s-]?\(?0?" + AREA + r"\)?|[(（]0" + AREA
                           + r"[)）]|0"
                           + AREA + r")[\s-]?([1-9]\d{2,3})[\s-]?(\d{4})(?:-\d{1,5})?" + NA)
    _intl = re.compile(r"(?=[+0])(?<![\w+])(?:\+|(?<!\d[\s-])00)[1-9][\d\s().-]{6,18}\d" + NA)
    _nanp = re.compile(r"(?=[+(1-9])" + NB + NOT_GROUPED + r"(?<!\+86\s)(?<!\+86-)(?:\+?1[\s.-]?)?"
                       r"(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-])[2-9]\d{2}[\s.-]\d{4}" + NA)

    # A North American number written as ten bare digits (area and exchange codes start
    # 2-9, NANP plan): as common a shape as any order number, so it is read only where the
    # clause it stands in says phone (`Text Amy Lee at 6299250746`, `Reach me on ...`).
    _nanp_bare = re.compile(r"(?=[2-9])" + NB + r"(?<!\d[\s-])[2-9]\d{2}[2-9]\d{6}" + NA)
    _clause_end = re.compile(r"[.!?;\n。！？；]")
    CLAUSE_REACH = 40

    # ASCII classes: `\d` tests every Unicode digit and costs twice as much here; full-width
    # digits are folded to ASCII before any finder runs (`entities.fold_width`).
    _digits = re.compile(r"[0-9][0-9\s().-]{5,}[0-9]")
    _cn_code = re.compile(r"(?:\+|00)\s?86")

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for lo, hi in windows(text, self._digits, 8, 1):
            out.extend(self._find_in(text, lo, hi))
        return out

    def _find_in(self, text: str, lo: int, hi: int) -> list[Finding]:
        out: list[Finding] = []
        for m in self._mobile.finditer(text, lo, hi):
            if not MOBILE_SEGMENTS.fullmatch(m.group(1)) or overlaps_card(text, m.start(), m.end()):
                continue
            s = adjust(0.8, text, m.start(), m.end(), positive=PHONE_CONTEXT,
                       negative=ORDER_CONTEXT, boost=0.2)
            out.append(Finding(m.start(), m.end(), PHONE_NUMBER, s, self.name))
        for m in self._landline.finditer(text, lo, hi):
            if len(m.group(4)) + len(m.group(5)) not in (7, 8) or overlaps_card(
                    text, m.start(), m.end()):
                continue
            separated = bool(re.search(r"[\s()（）+-]", m.group()))
            base = 0.7 if separated else 0.4
            s = adjust(base, text, m.start(), m.end(), positive=PHONE_CONTEXT,
                       negative=ORDER_CONTEXT, boost=0.3)
            out.append(Finding(m.start(), m.end(), PHONE_NUMBER, s, self.name))
        has_intl = "+" in text[lo:hi] or "00" in text[lo:hi]
        for rx, region in ((self._intl, None), (self._nanp, "US")):
            if region is None and not has_intl:
                continue
            for m in rx.finditer(text, lo, hi):
                raw = m.group()
                if region is None and self._cn_code.match(raw):
                    continue  # country code 86: the mainland patterns above decide
                # The NANP pattern already fixes country 1 and a valid 3-3-4 shape (area
                # and exchange codes start 2-9), which is all libphonenumber would check.
                if region is None:
                    try:
                        # libphonenumber reads 00 as an international prefix only
                        # within a region; as a prefix of its own it is the + of E.164.
                        num = phonenumbers.parse(
                            "+" + raw[2:] if raw.startswith("00") else raw, region)
                    except phonenumbers.NumberParseException:
                        continue
                    if num.country_code == 86 or not phonenumbers.is_possible_number(num):
                        continue
                separated = bool(re.search(r"[\s().+-]", raw))
                base = 0.75 if separated else 0.3
                s = adjust(base, text, m.start(), m.end(), positive=PHONE_CONTEXT,
                           negative=ORDER_CONTEXT, boost=0.3)
                out.append(Finding(m.start(), m.end(), PHONE_NUMBER, s, self.name))
        for m in self._nanp_bare.finditer(text, lo, hi):
            if overlaps_card(text, m.start(), m.end()):
                continue
            s = adjust(0.3, text, m.start(), m.end(), positive=PHONE_CONTEXT,
                       negative=ORDER_CONTEXT, boost=0.3, before=self._clause(text, m.start()))
            out.append(Finding(m.start(), m.end(), PHONE_NUMBER, s, self.name))
        return out

    def _clause(self, text: str, start: int) -> int:
        """How far back the clause before `start` reaches (at most `CLAUSE_REACH`): the verb
        of `Text Brittany Williams at 8393799344` stands a name away from the number."""
        lo = max(0, start - self.CLAUSE_REACH)
        last = lo
        for m in self._clause_end.finditer(text, lo, start):
            last = m.end()
        return start - last


@lru_cache(maxsize=65536)
def _has_public_suffix(domain: str) -> bool:
    return bool(OFFLINE_EXTRACT(domain).suffix)


class EmailFinder:
    """Anchored on '@' so that ordinary words are never tried as local parts."""

    name = "email"
    entities = (EMAIL_ADDRESS,)
    _local = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_+-])?$")
    _domain = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
                         r"(?![A-Za-z0-9-])")
    _local_char = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")

    def find(self, text: str) -> list[Finding]:
        out = []
        at = text.find("@")
        while at > 0:
            local = self._local.search(text, max(0, at - 64), at)
            dom = self._domain.match(text, at + 1)
            if local and dom:
                start = local.start()
                if start > 0 and text[start - 1] in self._local_char:
                    start = -1  # local part longer than 64 characters
                value = text[start:dom.end()] if start >= 0 else ""
                if value and ".." not in value and _has_public_suffix(dom.group()):
                    out.append(Finding(start, dom.end(), EMAIL_ADDRESS, 0.95, self.name))
            at = text.find("@", at + 1)
        return out


class IpFinder:
    name = "ip"
    entities = (IP_ADDRESS,)
    _v4 = re.compile(r"(?=\d)(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")
    _v6 = re.compile(r"(?<![0-9A-Za-z:])(?=[0-9A-Fa-f:]{2,39}(?![0-9A-Za-z:]))"
                     r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])")
    _colon = re.compile(r":[0-9A-Fa-f]{0,4}:")
    _dots = re.compile(r"\.\d{1,3}\.\d{1,3}\.")
    VERSION_CONTEXT = ("version", "ver", "v", "版本", "release", "build", "固件", "firmware")
    CONTEXT = ("ip", "地址", "address", "登录", "login", "host", "server", "访问")

    def find(self, text: str) -> list[Finding]:
        out = []
        spans = windows(text, self._dots, 4, 6)  # literal-led anchor: a fast search
        v6 = windows(text, self._colon, 40, 40)
        for rx, where in ((self._v4, spans), (self._v6, v6)):
            for m in (m for lo, hi in where for m in rx.finditer(text, lo, hi)):
                try:
                    ip = ipaddress.ip_address(m.group())
                except ValueError:
                    continue
                if ip.version == 6 and m.group().count(":") < 3:
                    continue
                pre = text[max(0, m.start() - 10):m.start()].lower().rstrip(" :：")
                if pre.endswith(self.VERSION_CONTEXT) or has_any(pre, ("版本", "version")):
                    continue
                s = adjust(0.75, text, m.start(), m.end(), positive=self.CONTEXT, boost=0.2)
                out.append(Finding(m.start(), m.end(), IP_ADDRESS, s, self.name))
        return out
