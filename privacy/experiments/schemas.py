"""Wire shapes of experiments and their readouts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ExperimentIn(BaseModel):
    """An A/B experiment over a registered one-row-per-customer dataset: `assignment_col`
    holds each customer's arm (a text column whose categories were declared, so the arms
    are public keys), `conversion_col` a 0/1 outcome with bounds (0, 1), `spend_col` an
    optional bounded amount. A control arm is required."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    dataset: str = Field(min_length=1, max_length=64)
    assignment_col: str = Field(min_length=1, max_length=128)
    arms: list[str] = Field(min_length=2, max_length=10)
    control_arm: str = Field(min_length=1, max_length=64)
    conversion_col: str = Field(min_length=1, max_length=128)
    spend_col: str | None = Field(default=None, max_length=128)
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def _shape(self) -> ExperimentIn:
        if len(set(self.arms)) != len(self.arms):
            raise ValueError("arms must be distinct")
        if self.control_arm not in self.arms:
            raise ValueError("control_arm must be one of the arms (a control is required)")
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ExperimentOut(ExperimentIn):
    model_config = ConfigDict(extra="forbid")

    requester: str
    registered_at: datetime


class ReadoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epsilon: float = Field(gt=0, description="Spent in equal parts on the arm sizes, the "
                                             "conversion rates and (if any) mean spend")


class Estimate(BaseModel):
    value: float
    ci95: tuple[float, float]


class ArmReadout(BaseModel):
    arm: str
    control: bool
    subjects: int = Field(description="Noisy (DP) number of subjects in the arm")
    conversion: Estimate
    mean_spend: Estimate | None


class Difference(BaseModel):
    arm: str = Field(description="Treatment arm, compared with the control")
    conversion: Estimate
    mean_spend: Estimate | None


class Readout(BaseModel):
    experiment: str
    final: bool = Field(description="True once the experiment's end has passed")
    arms: list[ArmReadout]
    differences: list[Difference]
    epsilon_spent: float
    epsilon_remaining: float
    release_ids: list[int]
    min_arm_size: int
    method: str
