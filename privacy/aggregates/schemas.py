"""The JSON query model (never SQL), the answer, and the public metadata of a dataset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Measure = Literal["count", "sum", "mean", "quantile", "histogram"]
Scalar = str | int | float | bool


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, max_length=128)
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
    value: Scalar | list[Scalar]


class AggregateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(min_length=1, max_length=64)
    measure: Measure
    column: str | None = Field(default=None, max_length=128)
    group_by: list[str] = Field(default_factory=list, max_length=3)
    filters: list[Filter] = Field(default_factory=list, max_length=10)
    epsilon: float = Field(gt=0)
    purpose: str = "analytics_aggregate"
    quantile: float = Field(default=0.5, gt=0, lt=1)
    bins: int = Field(default=10, ge=2, le=100)
    federated: bool = Field(default=False, description="Answer across the brands' silos "
                            "through Flower with SecAgg+; noise added once to the sum")
    dedup: bool = Field(default=False, description="With federated: link the brands' "
                        "customers privately first (a PSI ring over the alliance's join key) "
                        "and count each person at one brand, so the noise is that of one "
                        "silo. The answer is then over the linked population only: customers "
                        "with separate consent for cross_brand_sharing and a valid join key")

    @model_validator(mode="after")
    def _dedup_is_federated(self) -> AggregateQuery:
        if self.dedup and not self.federated:
            raise ValueError('"dedup" de-duplicates across silos: it needs "federated": true')
        return self


class Group(BaseModel):
    key: dict[str, Any]
    value: float | int | None
    ci95: tuple[float, float] | None


class AggregateAnswer(BaseModel):
    dataset: str
    measure: Measure
    groups: list[Group]
    suppressed: int = Field(description="Groups withheld because their noisy size was below "
                                        "the policy's minimum group size")
    epsilon_spent: float
    delta_spent: float
    epsilon_remaining: float
    noise: list[dict[str, Any]] = Field(description="Per released statistic: mechanism and "
                                                    "scale, as OpenDP calibrated them")
    keys: Literal["public", "private"]
    min_group_size: int
    release_id: int
    federated: bool = False
    population: Literal["all", "linked"] = Field(
        default="all", description="Whose rows the answer is over: every customer of the "
        "dataset, or (a de-duplicated query) only the customers linked across the brands, "
        "those with separate consent for cross_brand_sharing and a valid join key")


class ColumnSpec(BaseModel):
    """Public metadata of one column, declared at registration, never read from the data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: Literal["int", "float", "str", "bool"]
    bounds: tuple[float, float] | None = None
    categories: tuple[str, ...] | None = None
    data_category: str = "purchase_history"


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str
    format: Literal["csv", "parquet"]
    unit_col: str
    max_rows_per_unit: int = Field(ge=1)
    max_rows: int = Field(ge=1)
    jurisdiction: str
    columns: dict[str, ColumnSpec]
    silos: dict[str, str] = Field(default_factory=dict)
    version: int = 1


class BudgetView(BaseModel):
    requester: str
    dataset: str
    period: str
    period_key: str
    limit_epsilon: float
    spent_epsilon: float
    remaining_epsilon: float
    releases: int
    refusals: int
