"""The report's governance section (issue 22): the alliance agreement and its version,
impact assessments and their approvals (PIPL Art. 55-56, kept 3 years), cross-border totals
per handler and year against the CAC bands (PIPL Art. 38-40), the duties that scale brings
(Art. 52 officer, biennial audit) and security incidents with their deadlines (Art. 57)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.models import AuditEvent
from compliance.governance.models import CrossBorderTransfer, TransferMechanism
from compliance.governance.schemas import assessment_json, incident_json
from compliance.governance.service import GovernanceService
from compliance.policy.governance import (
    Governance,
    assessment_triggers,
    duties_due,
    load_governance,
    transfer_band,
)
from compliance.policy.schemas import PolicySet

Metrics = dict[str, bool | int | float | None]


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def governance_section(session: Session, policies: PolicySet, as_of: datetime,
                       subjects_by_brand: dict[str, int], purposes_processed: set[str],
                       governance: Governance | None = None) -> tuple[dict[str, Any], Metrics]:
    """The section and its checklist metrics. `purposes_processed`: purposes of the
    period's runs and releases, each checked for the assessments it needs."""
    gov = governance or load_governance(policies)
    svc = GovernanceService(session, policies, gov)
    ag = gov.agreement
    assessments = [{k: _iso(v) for k, v in assessment_json(r, content=False).items()}
                   for r in svc.assessments()]
    missing = sorted({f"{p}: {rule.key}" for p in purposes_processed
                      for rule in assessment_triggers(gov.assessments, purpose=p,
                                                      sensitive=False)
                      if svc.approved_assessment(p, rule.key, as_of) is None})
    totals = []
    for handler, year, n, sens, count in session.execute(select(
            CrossBorderTransfer.handler, CrossBorderTransfer.year,
            func.sum(CrossBorderTransfer.individuals),
            func.sum(CrossBorderTransfer.sensitive_individuals), func.count()).group_by(
            CrossBorderTransfer.handler, CrossBorderTransfer.year).order_by(
            CrossBorderTransfer.handler, CrossBorderTransfer.year)):
        band = transfer_band(gov.cross_border, individuals=int(n), sensitive=int(sens))
        totals.append({"handler": handler, "year": year, "individuals": int(n),
                       "sensitive": int(sens), "transfers": int(count),
                       "band": band.key if band else None,
                       "mechanisms_needed": list(band.mechanisms) if band else []})
    refused = dict(session.execute(select(AuditEvent.rule_id, func.count()).where(
        AuditEvent.action.in_(("transfer.refused", "governance.refused"))).group_by(
        AuditEvent.rule_id)).all())
    mechanisms = [{"id": m.id, "handler": m.handler, "kind": m.kind,
                   "valid_until": m.valid_until.isoformat()}
                  for m in session.scalars(select(TransferMechanism).order_by(
                      TransferMechanism.id))]
    duties = [{"handler": b, "individuals": n, "duty": d.key, "source": d.source}
              for b, n in sorted(subjects_by_brand.items())
              for d in duties_due(gov.cross_border, n)]
    now = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    incidents = []
    for row in svc.incidents():
        j = {k: _iso(v) for k, v in incident_json(row).items()}
        j["overdue"] = row.status == "open" and any(
            datetime.fromisoformat(d["authority_by"]) < now for d in row.deadlines.values())
        incidents.append(j)
    section = {
        "agreement": {"key": ag.key, "version": ag.version, "title": ag.title,
                      "effective": ag.effective.isoformat(), "expires": ag.expires.isoformat(),
                      "source": ag.source, "retention": ag.retention.model_dump(),
                      "parties": [p.model_dump() for p in ag.parties]},
        "assessments": assessments,
        "assessments_missing": missing,
        "cross_border": {"source": gov.cross_border.source, "totals": totals,
                         "mechanisms": mechanisms},
        "refusals_by_rule": {str(k): int(v) for k, v in sorted(refused.items(),
                                                                key=lambda kv: str(kv[0]))},
        "duties": duties,
        "incidents": incidents,
    }
    duty_keys = [str(d["duty"]) for d in duties]
    metrics: Metrics = {
        "governance.risky_purposes_without_assessment": len(missing),
        "governance.incidents_overdue": (sum(1 for i in incidents if i["overdue"])
                                         if incidents else None),
        "governance.handlers_needing_officer": duty_keys.count(
            "duty.pipl_art52.protection_officer") or None,
        "governance.handlers_needing_biennial_audit": duty_keys.count(
            "duty.audit_measures_art5.biennial_audit") or None,
    }
    return section, metrics
