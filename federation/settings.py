"""Settings of one federated training run, carried to brands inside Flower ConfigRecords,
and the keys of the special rounds both parties read (DP item statistics, DP aggregates).

This and `gate.report` are where the brand node and the coordinator meet: both import them,
neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from flwr.app import ConfigRecord

if TYPE_CHECKING:
    from federation.models.dpsgd import DpPlan

SECAGG_MIN_BRANDS = 3  # below this the sum of two updates reveals each to the other's holder

# A round asking for the brands' noisy item statistics (`federation.models.item_statistics`):
# which sum, the noise std each brand adds, the items the transitions are counted over.
STAGE_KEY = "item-stats-stage"
STD_KEY = "item-stats-std"
TOP_KEY = "item-stats-top"
# A SecAgg+ round carrying a DP aggregate plan (`privacy.aggregates.federated`).
PLAN_KEY = "dp-aggregate-plan"
BRANDS_KEY = "dp-aggregate-brands"


def toml_value(v: Any) -> str:
    """A value as TOML writes it: how run settings travel in `flwr run --run-config` and how
    a brand node's config file is written."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))


def is_statistics_round(config: Mapping[str, Any]) -> bool:
    return STAGE_KEY in config


def is_aggregate_round(config: Mapping[str, Any]) -> bool:
    return PLAN_KEY in config


RECOMMENDERS = ("sequential", "cooccurrence")
# A federated-validation round of a co-occurrence recommender: the candidates (JSON) each
# brand scores on its validation items.
CANDIDATES_KEY = "cooccurrence-candidates"
# The run's closing evaluation: each brand's federated figure beside a local-only model's
# (`federation.brand.local.value_of_joining`, `federation.coordinator.joining`).
LIFT_KEY = "value-of-joining"


def releases_item_statistics(config: Mapping[str, Any]) -> bool:
    """Whether a run (its settings as a mapping) releases the recommender's item side as DP
    item statistics instead of training it: a recommender under DP. Its customers' vectors
    are then computed from their history at the brand, never fitted."""
    return (config.get("model") == "recommend" and float(config.get("dp_epsilon") or 0) > 0
            and config.get("recommender", "sequential") == "sequential")


@dataclass(frozen=True)
class RunSettings:
    """What every party of a run may read: it travels to the brands in each round's config
    (and in the deployment's run config), so it names no database, path or key."""

    run_id: str
    brands: tuple[str, ...]
    consent_as_of: str  # ISO timestamp, UTC
    model: str = "churn"
    model_kind: str = "mlp"  # churn: logistic or mlp
    dim: int = 32  # recommend: embedding size
    items: int = 0  # recommend: rows of the alliance catalogue, which every brand must share
    # recommend: "sequential" (the factorization, trained in rounds) or "cooccurrence"
    # (EASE / transitions / blend from released item-item sums, chosen by federated
    # validation; `federation.models.cooccurrence`)
    recommender: str = "sequential"
    purpose: str = "model_training"
    rounds: int = 8
    local_epochs: int = 2
    learning_rate: float = 0.01
    batch_size: int = 64
    cutoff: str = "2026-06-01"
    horizon_days: int = 90
    # churn: add `ltv_log` (each brand's own BG/NBD + Gamma-Gamma fit on its orders up to the
    # cutoff, `federation.data.ltv`) to the features; only the model update leaves the brand
    ltv_feature: bool = False
    seed: int = 7
    secure_aggregation: bool = True
    dp_epsilon: float = 0.0  # target epsilon of DP-SGD at every brand; 0 trains without DP
    dp_delta: float = 1e-5
    dp_clip: float = 1.0
    dp_learning_rate: float = 0.5
    dp_batch_size: int = 256
    # Set by the coordinator from the brands' gate reports before round one:
    dp_noise_multiplier: float = 0.0
    dp_sample_rate: float = 0.0
    dp_steps_per_round: int = 0

    def __post_init__(self) -> None:
        if self.model not in ("churn", "recommend"):
            raise ValueError(f"model must be churn or recommend, not '{self.model}'")
        if self.model == "recommend" and self.items < 1:
            raise ValueError("a recommendation run needs the catalogue size (items >= 1)")
        if self.recommender not in RECOMMENDERS:
            raise ValueError(f"recommender must be one of {', '.join(RECOMMENDERS)}")
        if not self.brands:
            raise ValueError("at least one brand is needed")
        if self.rounds < 1 or self.local_epochs < 1 or self.batch_size < 1:
            raise ValueError("rounds, local_epochs and batch_size must be >= 1")
        if not 0 < self.learning_rate < 10:
            raise ValueError("learning_rate must be in (0, 10)")
        if self.dp_epsilon < 0 or not 0 < self.dp_delta < 1 or self.dp_clip <= 0:
            raise ValueError("dp_epsilon must be >= 0, dp_delta in (0, 1), dp_clip > 0")
        datetime.fromisoformat(self.consent_as_of)
        date.fromisoformat(self.cutoff)

    @property
    def cooccurrence(self) -> bool:
        """A recommender released as item-item sums and chosen by federated validation."""
        return self.model == "recommend" and self.recommender == "cooccurrence"

    @property
    def item_statistics(self) -> bool:
        """The recommender's item side is released as DP item statistics, not trained."""
        return releases_item_statistics(asdict(self))

    @property
    def dp_plan(self) -> DpPlan | None:
        """The DP-SGD plan every brand trains with, as the coordinator set it before round
        one (None: no DP-SGD in this run)."""
        if self.dp_noise_multiplier <= 0:
            return None
        from federation.models.dpsgd import DpPlan  # Opacus and torch: only where DP trains

        return DpPlan(self.dp_noise_multiplier, self.dp_clip, self.dp_sample_rate,
                      self.dp_steps_per_round, self.rounds, self.dp_delta)

    @property
    def as_of(self) -> datetime:
        return datetime.fromisoformat(self.consent_as_of).astimezone(UTC)

    def to_record(self) -> ConfigRecord:
        d: dict[str, Any] = asdict(self)
        d["brands"] = ",".join(self.brands)
        return ConfigRecord({k.replace("_", "-"): v for k, v in d.items()})

    @classmethod
    def from_mapping(cls, m: Any) -> RunSettings:
        names = {f.name for f in fields(cls)}
        d = {k.replace("-", "_"): v for k, v in dict(m).items() if k.replace("-", "_") in names}
        if isinstance(d.get("brands"), str):
            d["brands"] = tuple(b for b in d["brands"].split(",") if b)
        return cls(**d)
