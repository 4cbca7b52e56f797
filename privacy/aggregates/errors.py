"""Aggregate-specific errors; the API maps their status codes."""

from __future__ import annotations

from compliance.errors import ComityError


class BudgetExhausted(ComityError):
    """HTTP 429: this release would push the ledger past its limit; nothing was released."""

    status_code = 429

    def __init__(self, *, requested: float, remaining: float, period_key: str) -> None:
        super().__init__(
            f"privacy budget exhausted for period {period_key}: requested epsilon "
            f"{requested:g}, remaining {remaining:g}")
        self.details = {"epsilon_requested": requested, "epsilon_remaining": remaining,
                        "period": period_key}


class PolicyDenied(ComityError):
    status_code = 403

    def __init__(self, rule_id: str, explanation: str) -> None:
        super().__init__(f"denied by {rule_id}: {explanation}")
        self.details = {"rule_id": rule_id}
