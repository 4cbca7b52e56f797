"""One of each governance record, for tests that need them on record (anchors, report)."""

from __future__ import annotations

from datetime import date, datetime

from compliance.database import Database
from compliance.governance.service import GovernanceService
from compliance.policy.governance import load_governance
from compliance.policy.loader import load_policies
from compliance.tokens.service import TokenService


def approved_assessment(db: Database, purpose: str, facts: dict[str, str] | None = None
                        ) -> None:
    """An assessment for `purpose` drafted by dpo#1 and approved by a second person (dpo#2)."""
    policies = load_policies()
    with db.unit_of_work() as s:
        gov = GovernanceService(s, policies, load_governance(policies))
        people = TokenService(s)
        author = people.principal("pia-author", kind="person", actor="test").id
        dpo = people.principal("pia-dpo", kind="person", actor="test").id
        row = gov.draft_assessment(purpose, facts=facts or {}, author="dpo#1",
                                   author_id=author)
        gov.approve_assessment(row.id, actor="dpo#2", principal_id=dpo)


def governance_records(db: Database, *, summary: str = "test",
                       discovered_at: datetime | None = None) -> None:
    """An assessment approved by a second person (dpo#2), a standard contract, a transfer
    of 10 individuals by lumen-tea and an incident affecting one brand-a subject."""
    approved_assessment(db, "marketing")
    policies = load_policies()
    with db.unit_of_work() as s:
        gov = GovernanceService(s, policies, load_governance(policies))
        gov.add_mechanism("lumen-tea", "standard_contract", "SC-1", date(2030, 1, 1),
                          actor="test")
        gov.record_transfer("lumen-tea", recipient="HQ", country="SG", individuals=10,
                            actor="test")
        gov.open_incident(source="manual", summary=summary, details={},
                          affected={"brand-a": {"pipl": 1}}, actor="test",
                          discovered_at=discovered_at)
