"""The wire shapes of a cross-brand overlap (issue 26): a Diffie-Hellman PSI run as three
Flower query rounds (`query.psi`), relayed by the coordinator, which sees only blinded points.

1. `blind`: each brand hashes the join keys of its customers with separate consent for
   `cross_brand_sharing` and blinds them with its own scalar; the points go to the relay,
   in the order of their blinded values.
2. `reblind`: each brand blinds the other brand's points once more. The requesting brand's
   points keep their order (so it can tell which of its own customers matched), the other
   brand's are reordered.
3. `match` (exact mode only): the requesting brand gets both doubly blinded arrays, marks
   which of its own customers are in both, keeps that list at the brand, and answers only
   how many.

Pure: the request as a ConfigRecord and back. Both the brand node and the coordinator import
it; neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from flwr.app import ConfigRecord

PSI_ACTION = "psi"  # routed as message type "query.psi"
PSI_MESSAGE_TYPE = f"query.{PSI_ACTION}"
PSI_CONFIG = "psi-config"
PSI_REPLY = "psi-reply"  # config record of a reply: the brand id (and the consent digest)
CONSENT_DIGEST = "consent-snapshot-sha256"  # blind stage: the snapshot the brand gated on
PSI_RECORD = "psi"  # the array record that carries blinded points
POINTS = "points"  # array key: the points a stage sends or answers with
MINE = "mine"  # match stage: the requesting brand's points, blinded by both, in its order
THEIRS = "theirs"  # match stage: the other brand's points, blinded by both
ENTERED = "entered"  # reply metric: how many distinct keys entered (blind stage)
MATCHED = "matched"  # reply metric: how many of the requester's customers matched
# On the deployment runtime an overlap is a `flwr run` whose run config names one of these
# as its strategy (the run id, brands and consent-as-of travel in their usual keys).
OVERLAP_STRATEGIES = {"psi": False, "psi-exact": True}  # strategy -> exact mode
RESULTS_ENV = "COMITY_OVERLAP_DIR"  # the coordinator's: where its ServerApp leaves the counts
Stage = Literal["blind", "reblind", "match"]
STAGES: tuple[str, ...] = ("blind", "reblind", "match")


@dataclass(frozen=True)
class OverlapRequest:
    """What both brands may read about one overlap run: no key, path or identifier."""

    run_id: str
    brands: tuple[str, str]  # (the requesting brand, the other brand)
    as_of: str  # ISO time of the consent snapshot both brands gate on
    exact: bool = False
    stage: Stage = "blind"

    def __post_init__(self) -> None:
        if len(self.brands) != 2 or self.brands[0] == self.brands[1]:
            raise ValueError("an overlap is between two different brands")
        if self.stage not in STAGES:
            raise ValueError(f"unknown PSI stage '{self.stage}'")

    @property
    def requester(self) -> str:
        return self.brands[0]

    def at(self, stage: Stage) -> OverlapRequest:
        return replace(self, stage=stage)

    def to_record(self) -> ConfigRecord:
        return ConfigRecord({"run-id": self.run_id, "brands": ",".join(self.brands),
                             "as-of": self.as_of, "exact": self.exact, "stage": self.stage})

    @classmethod
    def from_record(cls, rec: ConfigRecord) -> OverlapRequest:
        a, b = str(rec["brands"]).split(",")
        stage = str(rec["stage"])
        if stage not in STAGES:
            raise ValueError(f"unknown PSI stage '{stage}'")
        return cls(run_id=str(rec["run-id"]), brands=(a, b), as_of=str(rec["as-of"]),
                   exact=bool(rec["exact"]), stage=stage)  # type: ignore[arg-type]
