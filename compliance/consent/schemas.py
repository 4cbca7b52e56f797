"""API shapes for consent events."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                         description="The brand's pseudonymous subject key (never a raw id)")
    purpose: str = Field(min_length=1, max_length=64)
    action: Literal["grant", "withdraw", "refuse"]
    separate: bool = False
    by_guardian: bool = False
    is_minor: bool | None = Field(None, description="Set when the subject is first seen")
    notice_version: str = Field(min_length=1, max_length=32)
    channel: str = Field("app", min_length=1, max_length=32)
    lawful_basis: str = Field("consent", max_length=32)
    occurred_at: datetime | None = None


class ConsentOut(BaseModel):
    id: int
    brand_id: str
    subject: str
    purpose: str
    action: str
    separate: bool
    by_guardian: bool
    notice_version: str
    channel: str
    lawful_basis: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime


class ConsentStateOut(BaseModel):
    brand_id: str
    subject: str
    states: dict[str, str]


class ConsentImportItem(ConsentIn):
    idempotency_key: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                                 description="Unique per event: a re-import adds nothing")


class ConsentBatchIn(BaseModel):
    """One batch of a brand's consent import, recorded in one transaction."""
    model_config = ConfigDict(extra="forbid")

    events: list[ConsentImportItem] = Field(min_length=1, max_length=5000)


class ConsentBatchOut(BaseModel):
    created: int
    replayed: int
