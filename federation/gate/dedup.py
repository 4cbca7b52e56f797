"""The wire shapes of a de-duplicated aggregate's linkage (issue 26; the math and what each
party learns: `privacy.overlap.dedup`): Flower query rounds (`query.dedup`) relayed by the
coordinator, which sees only blinded points.

1. `blind`: each brand blinds the join keys of its linked customers (the overlap's gate) with
   its own run scalar; points in the order of their blinded values.
2. `reblind` (k-1 rounds): each brand blinds the one array the relay hands it, in place.
3. `keep`: each brand gets the keep bits of its own points only, and keeps, in its state
   directory, which of its customers the aggregate round that follows counts.

Replies use the overlap's records (`federation.gate.overlap`: the brand id and consent digest
in `psi-reply`, points in `psi`, counts in `psi-metrics`), so the same wire rules apply. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from flwr.app import ConfigRecord

DEDUP_ACTION = "dedup"  # routed as message type "query.dedup"
DEDUP_MESSAGE_TYPE = f"query.{DEDUP_ACTION}"
DEDUP_CONFIG = "dedup-config"
KEEP_RECORD = "dedup"  # keep stage: the array record the relay sends (to the brand only)
KEEP = "keep"  # array key: one bit per point of the brand's own, in its order
KEPT = "kept"  # reply metric: how many of the brand's points it keeps
# The SecAgg+ round's config key that names the linkage run (its id) whose kept customers
# the brand counts (`federation.brand.aggregates`).
DEDUP_KEY = "dp-aggregate-dedup"
DedupStage = Literal["blind", "reblind", "keep"]
DEDUP_STAGES: tuple[str, ...] = ("blind", "reblind", "keep")


@dataclass(frozen=True)
class DedupRequest:
    """What every brand of the query may read about the linkage: no key, path or identifier."""

    run_id: str
    brands: tuple[str, ...]  # the query's silos, in ring order
    as_of: str  # ISO time of the consent snapshot every brand gates on
    stage: DedupStage = "blind"

    def __post_init__(self) -> None:
        if len(self.brands) < 2 or len(set(self.brands)) != len(self.brands):
            raise ValueError("a de-duplication links two or more different brands")
        if self.stage not in DEDUP_STAGES:
            raise ValueError(f"unknown de-duplication stage '{self.stage}'")

    def at(self, stage: DedupStage) -> DedupRequest:
        return replace(self, stage=stage)

    def to_record(self) -> ConfigRecord:
        return ConfigRecord({"run-id": self.run_id, "brands": ",".join(self.brands),
                             "as-of": self.as_of, "stage": self.stage})

    @classmethod
    def from_record(cls, rec: ConfigRecord) -> DedupRequest:
        return cls(run_id=str(rec["run-id"]), brands=tuple(str(rec["brands"]).split(",")),
                   as_of=str(rec["as-of"]), stage=str(rec["stage"]))  # type: ignore[arg-type]
