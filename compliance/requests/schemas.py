"""API shapes for data-subject requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RequestType = Literal["access", "portability", "correction", "deletion", "withdraw_consent",
                      "refuse_personalization", "refuse_automated_decision",
                      "restriction", "objection", "opt_out_sale", "explanation"]


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    type: RequestType
    details: dict[str, Any] = Field(default_factory=dict,
                                    description="correction: {fields: {name: value}}; "
                                                "withdraw_consent: {purpose}; "
                                                "explanation: {factors: [words from "
                                                "comity score --explain]}")


class RequestPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(None, max_length=128)
    status: Literal["open", "in_progress", "rejected"] | None = None
    reason: str | None = Field(None, max_length=500)


class RequestOut(BaseModel):
    id: str
    brand_id: str
    subject: str
    type: str
    jurisdiction: str
    status: str
    assignee: str | None
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None
    overdue: bool
    deadline_source: str
    result: dict[str, Any]
