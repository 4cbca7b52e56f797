"""Wire shapes of masked lookups and supervised reveals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class MaskedField(BaseModel):
    field: str
    category: str
    value: str = Field(description="The masked value; never the stored one")
    revealable: bool = Field(description="A supervisor may ask to see it in clear")


class LookupOut(BaseModel):
    brand_id: str
    subject: str = Field(description="The customer's pseudonym")
    fields: list[MaskedField]
    hidden: list[str] = Field(description="Stored fields this role may not see at all")
    audit_seq: int


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class RevealOut(BaseModel):
    id: int
    brand_id: str
    subject: str
    field: str
    status: str = Field(description="pending, confirmed, revealed or expired")
    requested_by: str
    approved_by: str | None
    expires_at: datetime


class RevealedValue(BaseModel):
    id: int
    field: str
    value: str = Field(description="In clear, for this response alone")
