"""The gate report a brand sends the coordinator: counts, digests, column names only.

One typed shape, encoded to and decoded from Flower records in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flwr.app import ConfigRecord, MetricRecord, RecordDict

if TYPE_CHECKING:  # prepare brings the models' data classes, and torch with them
    from federation.gate.prepare import Prepared


@dataclass(frozen=True)
class GateReport:
    brand_id: str
    consent_snapshot_sha256: str
    excluded_digest: str
    categories: tuple[str, ...]
    dropped_columns: dict[str, str]
    excluded_by_rule: dict[str, int]
    records_used: int
    excluded_no_consent: int
    excluded_minor: int
    train_examples: int
    test_examples: int

    @property
    def population(self) -> tuple[int, int, int, int]:
        """The row counts no array a brand sends may have as a dimension (the wire audit's
        `population`): every subject seen, those used, training and held-back examples."""
        return (self.records_used + self.excluded_no_consent + self.excluded_minor,
                self.records_used, self.train_examples, self.test_examples)

    @classmethod
    def of(cls, p: Prepared) -> GateReport:
        g = p.gate
        return cls(p.brand_id, p.snapshot_sha256, g.excluded_digest, p.categories,
                   dict(g.dropped_columns), dict(g.excluded_by_rule), g.records_used,
                   g.excluded_no_consent, g.excluded_minor, p.train_examples, p.test_examples)

    def to_records(self) -> RecordDict:
        info = ConfigRecord({
            "brand-id": self.brand_id,
            "consent-snapshot-sha256": self.consent_snapshot_sha256,
            "excluded-digest": self.excluded_digest,
            "categories": list(self.categories) or [""],
            "dropped-columns": [f"{c}\t{r}" for c, r in sorted(self.dropped_columns.items())]
            or [""],
            "excluded-rules": [f"{r}\t{n}" for r, n in sorted(self.excluded_by_rule.items())]
            or [""],
        })
        counts = MetricRecord({
            "records-used": self.records_used, "excluded-no-consent": self.excluded_no_consent,
            "excluded-minor": self.excluded_minor, "train-examples": self.train_examples,
            "test-examples": self.test_examples})
        return RecordDict({"gate": info, "counts": counts})

    @classmethod
    def from_records(cls, content: RecordDict) -> GateReport:
        info = cast(dict[str, Any], dict(content.config_records["gate"]))
        counts = cast(dict[str, Any], dict(content.metric_records["counts"]))

        def pairs(key: str) -> list[list[str]]:
            return [s.split("\t", 1) for s in info[key] if s]

        return cls(
            brand_id=str(info["brand-id"]),
            consent_snapshot_sha256=str(info["consent-snapshot-sha256"]),
            excluded_digest=str(info["excluded-digest"]),
            categories=tuple(c for c in info["categories"] if c),
            dropped_columns={c: r for c, r in pairs("dropped-columns")},
            excluded_by_rule={r: int(n) for r, n in pairs("excluded-rules")},
            records_used=int(counts["records-used"]),
            excluded_no_consent=int(counts["excluded-no-consent"]),
            excluded_minor=int(counts["excluded-minor"]),
            train_examples=int(counts["train-examples"]),
            test_examples=int(counts["test-examples"]),
        )
