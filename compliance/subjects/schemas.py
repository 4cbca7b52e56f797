"""API shapes for brands and their (pseudonymous) subjects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

BRAND_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class BrandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=BRAND_ID, description="lowercase letters, digits, - and _")
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=2, max_length=16,
                              description="a jurisdiction in policies/ (pipl, gdpr, ccpa)")


class BrandOut(BaseModel):
    id: str
    name: str
    jurisdiction: str
    created_at: datetime
    subjects: int = 0


class SubjectOut(BaseModel):
    """What a brand node syncs of its own subjects: the pseudonym and the derived flags."""
    id: int
    subject: str
    is_minor: bool
    guardian_consent: bool
