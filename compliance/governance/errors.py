"""Governance errors; the API maps their status codes."""

from __future__ import annotations

from compliance.errors import ComityError, ConflictError


class RunRefused(ComityError):
    """HTTP 403: a governance rule (agreement, assessment, cross-border band) refuses it."""

    status_code = 403

    def __init__(self, rule_id: str, explanation: str) -> None:
        super().__init__(f"refused by {rule_id}: {explanation}")
        self.rule_id = rule_id
        self.details = {"rule_id": rule_id}


class SecondPersonRequired(ConflictError):
    """An assessment is approved by a principal other than its author."""
