"""A subject key must be a pseudonym, never a raw identifier.

A key is written to `subjects` and to the append-only audit log, where no erasure request can
reach it (PIPL Art. 47, GDPR Art. 17); only a pseudonym may go there (PIPL Art. 73(3), GDPR
Art. 4(5)). So a key that our own validating recognizers read as personal data (a mainland
mobile or landline, an international phone, a resident ID with its check digit, a Luhn-valid
bank card, an e-mail, an IP address, a passport or plate number) is refused before anything
is written. The finders run directly, pattern and check digits only: microseconds per key,
fit for the consent endpoint, where Presidio's pipeline per request would not be.

A key has no surrounding text, so any finding counts, whatever its score. The finders only
read a number bounded by something other than a letter or digit, so a keyed digest (the
brands' HMAC pseudonyms, `privacy.pseudonym`, or any hex or base32 digest) is never read as
one, even when it begins with eleven digits of a mobile number.
"""

from __future__ import annotations

from functools import cache

from compliance.errors import InputError
from privacy.detection.entities import Finder, fold_width


@cache
def _finders() -> tuple[Finder, ...]:
    """Built on first use: the phone and e-mail finders pull in phonenumbers and tldextract,
    which processes that never record a consent should not pay for."""
    from privacy.detection.bank_card import BankCardFinder
    from privacy.detection.contact import EmailFinder, IpFinder, PhoneFinder
    from privacy.detection.documents import LicensePlateFinder, PassportFinder, ResidentIdFinder

    return (ResidentIdFinder(), BankCardFinder(), PhoneFinder(), EmailFinder(), IpFinder(),
            PassportFinder(), LicensePlateFinder())


def pii_type(key: str) -> str | None:
    """The entity type a recognizer finds in `key` (CN_RESIDENT_ID, PHONE_NUMBER, ...), or
    None when the key reads as a pseudonym. Full-width digits are read as digits."""
    key = fold_width(key)
    for finder in _finders():
        for found in finder.find(key):
            if found.score > 0:
                return found.type
    return None


def refuse_pii_subject_key(key: str, *, field: str = "subject") -> None:
    """Raise an `InputError` naming `field` (never the value) when `key` is personal data."""
    kind = pii_type(key)
    if kind is not None:
        raise InputError(f"reads as personal data ({kind}), not a pseudonym: send the key "
                         "the brand derives with its own pseudonymization key, never a raw "
                         "phone, ID, card or e-mail", column=field)
