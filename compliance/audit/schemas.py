"""Wire shapes of the audit log's witness endpoint."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEX64 = r"^[0-9a-f]{64}$"
MAX_TREE_SIZE = 2**63 - 1  # what SQLite and PostgreSQL BIGINT can hold


class WitnessIn(BaseModel):
    """The signed tree head a brand verified (its size and root)."""

    model_config = ConfigDict(extra="forbid")

    tree_size: int = Field(ge=1, le=MAX_TREE_SIZE)
    tree_root: str = Field(pattern=HEX64)


class WitnessOut(BaseModel):
    brand_id: str
    tree_size: int
    tree_root: str
    witnessed_at: str
    new: bool
