"""Governance records and the checks that runs pass before they start.

- `check_run`: the alliance agreement (PIPL Art. 20-21; GDPR Art. 26/28), then an approved,
  unexpired impact assessment for every risky kind the run is (PIPL Art. 55; GDPR Art. 35).
- Assessments: drafted from what comity knows, approved by a second principal, kept at least
  three years (Art. 56).
- Cross-border transfers: counted per handler and calendar year against the CAC bands; a
  transfer whose band needs a mechanism not on record is refused (PIPL Art. 38-40).
- Incidents: deadlines per jurisdiction and a notification draft in zh and en (Art. 57).
Services only flush; the caller's unit of work commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.governance.errors import RunRefused, SecondPersonRequired
from compliance.governance.models import (
    CrossBorderTransfer,
    ImpactAssessment,
    Incident,
    TransferMechanism,
)
from compliance.policy.governance import (
    Governance,
    assessment_triggers,
    check_agreement,
    transfer_band,
)
from compliance.policy.schemas import PolicySet


def _aware(t: datetime) -> datetime:
    """SQLite hands back naive UTC times."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class GovernanceService:
    def __init__(self, session: Session, policies: PolicySet, governance: Governance) -> None:
        self.session = session
        self.policies = policies
        self.gov = governance
        self.audit = AuditLog(session)

    # --- runs -------------------------------------------------------------------------

    def refusal(self, *, kind: str, run_id: str, brands: Iterable[str], purpose: str,
                categories: Iterable[str] = (), actor: str = "coordinator",
                on: datetime | None = None, record: bool = True) -> RunRefused | None:
        """Why a training or aggregate run may not go ahead (audited as governance.refused),
        or None: outside the alliance agreement, or without an approved, unexpired
        assessment for a risky kind it is. `record=False`: the caller audits it."""
        now = on or utcnow()
        cats = sorted(set(categories))
        refusal = check_agreement(self.gov.agreement, parties=[*brands, "coordinator"],
                                  purpose=purpose, categories=cats, on=now.date())
        if refusal is not None:
            if record:
                self._refused(kind, run_id, purpose, refusal.rule_id, actor)
            return RunRefused(refusal.rule_id, refusal.explanation)
        sensitive = any(self.policies.categories[c].sensitive for c in cats
                        if c in self.policies.categories)
        for rule in assessment_triggers(self.gov.assessments, purpose=purpose,
                                        sensitive=sensitive):
            if self.approved_assessment(purpose, rule.key, now) is None:
                if record:
                    self._refused(kind, run_id, purpose, rule.key, actor)
                return RunRefused(rule.key, f"{rule.explanation} (no approved, unexpired "
                                            f"assessment for '{purpose}')")
        return None

    def _refused(self, kind: str, run_id: str, purpose: str, rule_id: str, actor: str) -> None:
        self.audit.record("governance.refused", actor=actor, rule_id=rule_id, data={
            "kind": kind, "run_id": run_id, "purpose": purpose,
            "agreement_version": self.gov.agreement.version})

    # --- impact assessments -------------------------------------------------------------

    def draft_assessment(self, purpose: str, *, facts: dict[str, Any], author: str,
                         author_id: int | None, sensitive: bool = False) -> ImpactAssessment:
        """Draft from the policies and `facts` (safeguards measured by the caller: SecAgg+,
        epsilon and delta, dropped columns, membership-inference results)."""
        p = self.policies.purpose(purpose)
        triggers = [r.key for r in assessment_triggers(self.gov.assessments, purpose=purpose,
                                                       sensitive=sensitive)]
        ag = self.gov.agreement
        content = {
            "purpose": {"key": p.key, "description": p.description,
                        "lawful_basis": p.lawful_basis, "source": p.source},
            "categories": {"required": list(p.required_categories),
                           "optional": list(p.optional_categories),
                           "sensitive": sorted(c for c in p.allowed_categories
                                               if self.policies.categories[c].sensitive)},
            "recipients": [{"party": x.id, "name": x.name, "role": x.role}
                           for x in ag.parties if purpose in x.purposes],
            "agreement": {"key": ag.key, "version": ag.version},
            "safeguards": facts,
            "retention": {"agreement": ag.retention.model_dump(),
                          "rules": [r.key for r in self.policies.retention
                                    if r.purpose == purpose]},
            "triggers": triggers,
            "source": self.gov.assessments.source,
        }
        now = utcnow()
        row = ImpactAssessment(id=str(uuid.uuid4()), purpose=purpose,
                               triggers={"rules": triggers}, content=content, status="draft",
                               author=author, author_id=author_id, created_at=now,
                               keep_until=now + timedelta(
                                   days=self.gov.assessments.retention_days))
        self.session.add(row)
        self.session.flush()
        self.audit.record("assessment.drafted", actor=author, data={
            "assessment_id": row.id, "purpose": purpose, "triggers": triggers})
        return row

    def get_assessment(self, assessment_id: str) -> ImpactAssessment:
        row = self.session.get(ImpactAssessment, assessment_id)
        if row is None:
            raise NotFoundError("no such assessment")
        return row

    def approve_assessment(self, assessment_id: str, *, actor: str, principal_id: int
                           ) -> ImpactAssessment:
        """The DPO's approval: a principal other than the author (PIPL Art. 55-56; the
        two-person rule of the source documents)."""
        row = self.get_assessment(assessment_id)
        if row.status != "draft":
            raise ConflictError(f"assessment is already {row.status}")
        if row.author_id is not None and row.author_id == principal_id:
            raise SecondPersonRequired("an assessment is approved by a principal other than "
                                       "its author")
        now = utcnow()
        row.status, row.approved_by, row.approved_by_id = "approved", actor, principal_id
        row.approved_at = now
        row.expires_at = now + timedelta(days=self.gov.assessments.valid_days)
        row.keep_until = max(_aware(row.keep_until), now + timedelta(
            days=self.gov.assessments.retention_days))
        self.session.flush()
        self.audit.record("assessment.approved", actor=actor, data={
            "assessment_id": row.id, "purpose": row.purpose, "principal_id": principal_id,
            "expires_at": row.expires_at.isoformat()})
        return row

    def approved_assessment(self, purpose: str, trigger: str, at: datetime
                            ) -> ImpactAssessment | None:
        for row in self.session.scalars(select(ImpactAssessment).where(
                ImpactAssessment.purpose == purpose, ImpactAssessment.status == "approved")):
            if (row.expires_at is not None and _aware(row.expires_at) > at
                    and trigger in row.triggers.get("rules", [])):
                return row
        return None

    def assessments(self) -> list[ImpactAssessment]:
        return list(self.session.scalars(select(ImpactAssessment).order_by(
            ImpactAssessment.created_at)))

    # --- cross-border -------------------------------------------------------------------

    def add_mechanism(self, handler: str, kind: str, reference: str, valid_until: date, *,
                      actor: str) -> TransferMechanism:
        if kind not in ("standard_contract", "certification", "security_assessment"):
            raise InputError("kind: standard_contract, certification or security_assessment",
                             column="kind")
        row = TransferMechanism(handler=handler, kind=kind, reference=reference[:200],
                                valid_until=valid_until, recorded_by=actor[:128])
        self.session.add(row)
        self.session.flush()
        self.audit.record("transfer.mechanism", actor=actor, brand_id=None, data={
            "handler": handler, "kind": kind, "mechanism_id": row.id,
            "valid_until": valid_until.isoformat()})
        return row

    def year_totals(self, handler: str, year: int) -> tuple[int, int]:
        """Individuals and sensitive individuals provided abroad this year (recorded
        transfers summed: the same person in two transfers counts twice, conservatively)."""
        row = self.session.execute(select(
            func.coalesce(func.sum(CrossBorderTransfer.individuals), 0),
            func.coalesce(func.sum(CrossBorderTransfer.sensitive_individuals), 0)).where(
            CrossBorderTransfer.handler == handler, CrossBorderTransfer.year == year)).one()
        return int(row[0]), int(row[1])

    def record_transfer(self, handler: str, *, recipient: str, country: str,
                        individuals: int, sensitive: int = 0, ciio: bool = False,
                        actor: str, on: datetime | None = None) -> CrossBorderTransfer:
        """Count the transfer into its calendar year, find the band the year's totals reach
        and refuse it unless a mechanism that band accepts is on record and valid."""
        if individuals < 0 or sensitive < 0 or sensitive > individuals:
            raise InputError("individuals >= sensitive >= 0", column="individuals")
        if handler not in {p.id for p in self.gov.agreement.parties}:
            raise RunRefused("alliance.art20.party", f"'{handler}' is not a party")
        now = on or utcnow()
        total, total_sensitive = self.year_totals(handler, now.year)
        band = transfer_band(self.gov.cross_border, individuals=total + individuals,
                             sensitive=total_sensitive + sensitive, ciio=ciio)
        if band is None:
            raise RunRefused("cross_border.default_deny", "no band of policies/"
                             "cross_border.yaml holds")
        mechanism = None
        if band.mechanisms:
            mechanism = self.session.scalar(select(TransferMechanism).where(
                TransferMechanism.handler == handler,
                TransferMechanism.kind.in_(band.mechanisms),
                TransferMechanism.valid_until >= now.date()).order_by(TransferMechanism.id))
            if mechanism is None:  # audited by the caller (record_transfer_or_raise)
                raise RunRefused(band.key, f"{band.explanation} Needs one of: "
                                           f"{', '.join(band.mechanisms)} on record.")
        row = CrossBorderTransfer(handler=handler, year=now.year, recipient=recipient[:200],
                                  country=country[:2].upper(), individuals=individuals,
                                  sensitive_individuals=sensitive, rule_id=band.key,
                                  mechanism_id=mechanism.id if mechanism else None,
                                  recorded_by=actor[:128], created_at=now)
        self.session.add(row)
        self.session.flush()
        self.audit.record("transfer.recorded", actor=actor, rule_id=band.key, data={
            "handler": handler, "country": row.country, "individuals": individuals,
            "sensitive": sensitive, "mechanism_id": row.mechanism_id})
        return row

    # --- incidents ----------------------------------------------------------------------

    def open_incident(self, *, source: str, summary: str, details: dict[str, Any],
                      affected: dict[str, dict[str, int]], actor: str,
                      discovered_at: datetime | None = None) -> Incident:
        """Deadlines per jurisdiction from policies/incidents.yaml, counted from discovery."""
        found = discovered_at or utcnow()
        laws = sorted({law for per in affected.values() for law in per}) or sorted(
            self.policies.jurisdictions)
        deadlines: dict[str, Any] = {}
        for law in laws:
            rule = self.gov.incidents.rule(law)
            if rule is None:
                continue
            deadlines[law] = {
                "rule_id": rule.key, "source": rule.source,
                "authority_by": (found + timedelta(hours=rule.authority_hours)).isoformat(),
                "subjects_by": (found + timedelta(hours=rule.subjects_hours)).isoformat()}
        row = Incident(id=str(uuid.uuid4()), source=source, summary=summary[:2000],
                       details={k: details.get(k, "") for k in self.gov.incidents.content},
                       affected=affected, deadlines=deadlines, status="open",
                       opened_by=actor[:128], discovered_at=found)
        self.session.add(row)
        self.session.flush()
        self.audit.record("incident.opened", actor=actor, data={
            "incident_id": row.id, "source": source, "jurisdictions": sorted(deadlines),
            "affected": sum(n for per in affected.values() for n in per.values())})
        return row

    def _incident_once(self, *, source: str, finding: dict[str, Any], summary: str,
                       details: dict[str, Any], actor: str) -> Incident:
        """Open an automatic incident once per finding: the same finding reported again
        returns the open incident instead of a second one."""
        for row in self.session.scalars(select(Incident).where(
                Incident.source == source, Incident.status == "open")):
            if row.details.get("finding") == finding:
                return row
        inc = self.open_incident(source=source, actor=actor, summary=summary,
                                 details=details, affected={})
        inc.details = {**inc.details, "finding": finding}
        self.session.flush()
        return inc

    def incident_for_failed_verification(self, *, first_bad_seq: int | None, problem: str,
                                         rows: Iterable[str] = (), actor: str
                                         ) -> Incident:
        """A failed audit verification is a possible incident (records of processing may
        have been altered: PIPL Art. 51, 57; GDPR Art. 33). Opened once per finding: the same
        finding verified again returns the open incident."""
        return self._incident_once(
            source="audit_verification", actor=actor,
            finding={"first_bad_seq": first_bad_seq, "problem": problem[:500],
                     "rows": sorted(rows)[:20]},
            summary="audit log verification failed: records of processing may have been "
                    "altered",
            details={"categories": "records of processing (audit log, anchored tables)",
                     "causes": problem[:500], "possible_harm": "decisions of record can no "
                     "longer be shown to be the ones made",
                     "remedial_measures": "compare with the last signed checkpoint and the "
                     "brands' witnessed heads; restore from backup; investigate access",
                     "contact": ""})

    def incident_for_wire_violation(self, *, run_id: str, violation: str, actor: str
                                    ) -> Incident:
        """A reply that broke the wire rules may have carried personal data off a brand node
        (PIPL Art. 57; GDPR Art. 33): the run stops and an incident is opened, once per run
        and finding. `violation` names rules and fields, never values (`federation.gate.wire`)."""
        return self._incident_once(
            source="wire_audit", actor=actor,
            finding={"run_id": run_id, "violation": violation[:500]},
            summary=f"wire audit violation in run {run_id[:64]}: a brand's reply broke the "
                    "wire rules",
            details={"categories": "whatever the offending reply carried (the rule says "
                     "which field)", "causes": violation[:500],
                     "possible_harm": "personal information may have left a brand node",
                     "remedial_measures": "the run was stopped before any strategy saw the "
                     "reply; inspect the brand's ClientApp and its column map",
                     "contact": ""})

    def incident_for_key_compromise(self, *, master_version: int, rewrapped: int,
                                    reason: str, actor: str) -> Incident:
        """A master key reported compromised (PIPL Art. 51(3), 57; GDPR Art. 32-33): the key
        is rotated and an incident opened, once per new key version."""
        return self._incident_once(
            source="key_compromise", actor=actor,
            finding={"master_version": master_version},
            summary="master key reported compromised; rotated to version "
                    f"{master_version}",
            details={"categories": "every subject's encrypted personal information "
                     "(data keys wrapped by the compromised master key)",
                     "causes": reason[:500] or "reported by comity keys rotate --compromised",
                     "possible_harm": "encrypted personal information may be readable by "
                     "whoever holds the old key",
                     "remedial_measures": f"new master key version {master_version}; "
                     f"{rewrapped} subject data keys re-wrapped under it; retire the old key",
                     "contact": ""})

    def incidents(self) -> list[Incident]:
        return list(self.session.scalars(select(Incident).order_by(Incident.created_at)))

    def get_incident(self, incident_id: str) -> Incident:
        row = self.session.get(Incident, incident_id)
        if row is None:
            raise NotFoundError("no such incident")
        return row


LABELS = {
    "en": {"title": "Notice of a personal information security incident",
           "categories": "Categories of personal information involved",
           "causes": "Causes", "possible_harm": "Possible harm",
           "remedial_measures": "Remedial measures taken and what you can do",
           "contact": "Contact", "affected": "Individuals affected",
           "deadline": "Notify the authority by"},
    "zh": {"title": "个人信息安全事件告知", "categories": "涉及的个人信息种类",
           "causes": "发生原因", "possible_harm": "可能造成的危害",
           "remedial_measures": "已采取的补救措施和个人可以采取的减轻危害的措施",
           "contact": "联系方式", "affected": "受影响的个人数量",
           "deadline": "向主管部门报告的期限"},
}


def notification_draft(incident: Incident, lang: str) -> str:
    """The notice the laws ask for (PIPL Art. 57: categories, causes, possible harm,
    remedial measures, contact; GDPR Art. 33(3), 34(2); Cal. Civ. Code 1798.82(d))."""
    if lang not in LABELS:
        raise InputError("lang: use en or zh", column="lang")
    t = LABELS[lang]
    lines = [t["title"], ""]
    for key, value in incident.details.items():
        lines.append(f"{t.get(key, key)}: {value or '-'}")
    total = sum(n for per in incident.affected.values() for n in per.values())
    lines.append(f"{t['affected']}: {total}")
    for law, d in sorted(incident.deadlines.items()):
        lines.append(f"{t['deadline']} ({law}, {d['rule_id']}): {d['authority_by']}")
    return "\n".join(lines) + "\n"


def check_run_or_raise(db: Database, policies: PolicySet, governance: Governance, **kw: Any
                       ) -> None:
    """`check_run` in a unit of work of its own, so that the refusal's audit event is kept
    when the caller's work is rolled back; then the refusal is raised."""
    with db.unit_of_work() as session:
        refused = GovernanceService(session, policies, governance).refusal(**kw)
    if refused is not None:
        raise refused


def record_transfer_or_raise(db: Database, policies: PolicySet, governance: Governance,
                             handler: str, **kw: Any) -> CrossBorderTransfer:
    """`record_transfer` whose refusal stays audited: the refused attempt is committed as
    `transfer.refused` before the refusal is raised (PIPL Art. 54: refused processing is
    evidence too)."""
    with db.unit_of_work() as session:
        svc = GovernanceService(session, policies, governance)
        try:
            with session.begin_nested():
                row = svc.record_transfer(handler, **kw)
                session.expunge(row)
                return row
        except RunRefused as exc:
            refused = exc
            svc.audit.record("transfer.refused", actor=str(kw.get("actor", "?")),
                             rule_id=exc.rule_id, data={
                                 "handler": handler, "country": str(kw.get("country", "")),
                                 "individuals": int(kw.get("individuals", 0)),
                                 "sensitive": int(kw.get("sensitive", 0))})
    raise refused
