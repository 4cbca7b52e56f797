"""The overlap request and answer (API and CLI), and the counts the PSI rounds hand back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from compliance.subjects.schemas import BRAND_ID


class OverlapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brands: list[str] = Field(min_length=2, max_length=2, description="The requesting brand "
                              "first, then the other brand")
    exact: bool = Field(default=False, description="Give the intersection itself to the requesting "
                        "brand (only where the alliance agreement allows it); default: only "
                        "its size, with DP noise")
    epsilon: float = Field(default=1.0, gt=0, le=10, description="Privacy loss of the noisy size "
                           "(cardinality mode), charged to the requester's ledger")

    @model_validator(mode="after")
    def _brands(self) -> OverlapIn:
        for b in self.brands:
            if not re.match(BRAND_ID, b):
                raise ValueError(f"'{b}' is not a brand id")
        if self.brands[0] == self.brands[1]:
            raise ValueError("an overlap is between two different brands")
        return self


class OverlapOut(BaseModel):
    run_id: str
    brands: list[str]
    mode: str  # cardinality | exact
    join_key: str
    entered: dict[str, int]  # brand -> distinct consented keys that entered
    size: int  # noisy (cardinality) or exact
    noise_scale: float | None = None
    ci95: tuple[float, float] | None = None
    epsilon_spent: float = 0.0
    epsilon_remaining: float | None = None
    result_at: str | None = None  # exact: where the requesting brand keeps the list
    bytes_sent: dict[str, int] = {}


@dataclass(frozen=True)
class PsiCounts:
    """What the relay learns from one PSI: set sizes and the size of the intersection of
    the doubly blinded points (and, in exact mode, what the requester counted)."""

    entered: dict[str, int]
    size: int
    matched: int | None = None
    bytes_sent: dict[str, int] = field(default_factory=dict)
    consent_sha256: dict[str, str] = field(default_factory=dict)  # brand -> snapshot digest
