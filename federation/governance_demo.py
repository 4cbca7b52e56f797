"""The demo's governance step (issue 22): the alliance agreement the runs were checked
against, an impact assessment for personalized recommendation drafted from the churn run's
safeguards and approved by the DPO (another person), a cross-border transfer to an overseas
headquarters refused once the year's total crosses 100,000 individuals without a standard
contract on record (CAC Provisions Art. 8), and one incident with its deadlines."""

from __future__ import annotations

from typing import Any

from compliance.database import Database
from compliance.governance.errors import RunRefused
from compliance.governance.service import GovernanceService, record_transfer_or_raise
from compliance.policy.governance import load_governance
from compliance.policy.loader import load_policies
from compliance.tokens.service import TokenService
from federation.coordinator.impact import safeguards


def demo_governance(db: Database, brands: tuple[str, ...]) -> dict[str, Any]:
    policies = load_policies()
    gov = load_governance(policies)
    with db.unit_of_work() as s:
        people = TokenService(s)
        author = people.principal("ops@alliance", kind="person", actor="admin").id
        dpo = people.principal("dpo@alliance", kind="person", actor="admin").id
        svc = GovernanceService(s, policies, gov)
        draft = svc.draft_assessment("personalized_recommendation",
                                     facts=safeguards(s, "model_training"),
                                     author="ops@alliance", author_id=author)
        approved = svc.approve_assessment(draft.id, actor="dpo@alliance", principal_id=dpo)
        assessment = approved.id
    handler = brands[0]
    kw = {"recipient": "overseas headquarters", "country": "SG", "actor": "admin"}
    first = record_transfer_or_raise(db, policies, gov, handler, individuals=80_000, **kw)
    refused: str | None = None
    try:
        record_transfer_or_raise(db, policies, gov, handler, individuals=30_000, **kw)
    except RunRefused as exc:
        refused = exc.rule_id
    with db.unit_of_work() as s:
        incident = GovernanceService(s, policies, gov).open_incident(
            source="manual", actor="dpo@alliance",
            summary="a segment export was e-mailed to the wrong partner address",
            details={"categories": "purchase history (pseudonymized)",
                     "causes": "address autocomplete", "possible_harm": "profiling by the "
                     "recipient", "remedial_measures": "recipient confirmed deletion; "
                     "exports now need a second confirmation",
                     "contact": "dpo@alliance.example"},
            affected={handler: {"pipl": 3}}).id
    return {"agreement": gov.agreement.version, "assessment": assessment,
            "transfer": first.rule_id, "transfer_refused": refused, "incident": incident}
