"""Display masks for sensitive fields (pure, no I/O), as GB/T 35273-2020 §7.3 asks for
showing personal information: enough for staff to recognise a customer, not to reuse it.

- phone: first 3 and last 4 digits (138****5678);
- resident ID (GB 11643-1999, 18 characters, birth date at 7-14): the region code and the
  last 4 stay, the birth date and order code are hidden (110101********123X); the old
  15-digit form hides its 6-digit birth date the same way;
- bank card: last 4 digits only (************1234);
- e-mail: first character and the domain; name: the first character; address: its start.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from privacy.pii import mask_text

_NOT_ID = re.compile(r"[^0-9Xx]")


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def mask_phone(value: str) -> str:
    d = _digits(value)
    if d.startswith("86") and len(d) == 13:  # +86 138 1234 5678
        d = d[2:]
    if len(d) < 8:
        return "*" * len(d)
    return d[:3] + "*" * (len(d) - 7) + d[-4:]


def mask_resident_id(value: str) -> str:
    s = _NOT_ID.sub("", value).upper()
    if len(s) == 18:
        return s[:6] + "*" * 8 + s[-4:]
    if len(s) == 15:
        return s[:6] + "*" * 6 + s[-3:]
    return "*" * len(s)


def mask_bank_card(value: str) -> str:
    d = _digits(value)
    return "*" * max(len(d) - 4, 0) + d[-4:] if len(d) > 4 else "*" * len(d)


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return mask_text(value)
    return (local[:1] + "***" if local else "***") + "@" + domain


def mask_name(value: str) -> str:
    v = value.strip()
    return v[:1] + "*" * max(len(v) - 1, 1) if v else ""


def mask_address(value: str) -> str:
    v = value.strip()
    keep = min(6, len(v) // 3)
    return v[:keep] + "*" * 6


MASKS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone, "resident_id": mask_resident_id, "bank_card": mask_bank_card,
    "email": mask_email, "name": mask_name, "delivery_address": mask_address,
}


def mask(category: str, value: str) -> str:
    """The display mask of `value` as data of `category`; the generic one otherwise."""
    return MASKS.get(category, mask_text)(value)
