"""API shapes of lineage: model versions, a version as released to a brand, and the counts a
brand reports of one serving run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelVersionOut(BaseModel):
    model: str
    version: int
    run_id: str
    weights_sha256: str
    created_at: datetime


class ModelReleaseOut(BaseModel):
    model: str
    version: int
    weights_sha256: str
    weights: str = Field(description="base64 of the weights' .npz blob; its SHA-256 is "
                                     "weights_sha256")
    config: dict[str, Any]
    final: dict[str, Any]


class ServingIn(BaseModel):
    """Counts only: no pseudonym or customer id travels with a serving report."""
    model_config = ConfigDict(extra="forbid")

    requested: int = Field(ge=0)
    personalized: int = Field(ge=0)
    not_personalized: int = Field(ge=0)
    as_of: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    k: int | None = Field(None, ge=1, le=1000)
