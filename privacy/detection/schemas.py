"""Request and response shapes of the PII scan API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from privacy.detection.entities import ALL_TYPES

MAX_ITEMS = 1000
MAX_TEXT = 100_000


class ScanItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int
    text: str = Field(max_length=MAX_TEXT)


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScanItem] = Field(min_length=1, max_length=MAX_ITEMS)
    entities: list[str] | None = None
    threshold: float = Field(0.5, ge=0.0, le=1.0)

    @field_validator("entities")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            unknown = sorted(set(v) - set(ALL_TYPES))
            if unknown:
                raise ValueError(f"unknown entity types (known: {', '.join(ALL_TYPES)})")
        return v


class EntityOut(BaseModel):
    type: str
    start: int
    end: int
    score: float


class ScanResult(BaseModel):
    id: str | int
    entities: list[EntityOut]


class ScanResponse(BaseModel):
    results: list[ScanResult]
