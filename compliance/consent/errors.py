"""Consent errors beyond the shared ones."""

from __future__ import annotations

from compliance.errors import ComityError


class OverloadedError(ComityError):
    """The consent writer is too far behind to answer in time: refused before anything was
    written, so a retry under the same Idempotency-Key is safe (RFC 9110 §15.6.4: 503 with
    Retry-After)."""

    status_code = 503

    def __init__(self, retry_after: str = "1") -> None:
        super().__init__("the consent writer is at capacity; nothing was recorded, retry "
                         "with the same Idempotency-Key after Retry-After seconds")
        self.headers = {"Retry-After": retry_after}
