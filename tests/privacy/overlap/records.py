"""One overlap run on record, for tests that need the table populated (anchors)."""

from __future__ import annotations

from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from privacy.overlap.schemas import OverlapIn, PsiCounts
from privacy.overlap.service import OverlapService


def overlap_records(db: Database) -> None:
    """What a completed PSI of brand-a and brand-b would leave: the run and its release."""
    OverlapService(db, load_policies()).record(
        "00000000-0000-4000-8000-000000000026", "dpo", "dpo#1",
        OverlapIn(brands=["brand-a", "brand-b"], exact=True, epsilon=1.0),
        PsiCounts({"brand-a": 3, "brand-b": 4}, 2, 2), utcnow(), 0)
