"""The coordinator's check of the brands' gates: every brand reports counts and the digest of
the consent snapshot it gated on (`federation.gate.report`); the coordinator recomputes the
snapshot and each subject's decision from its own compliance records, fails the run on any
mismatch, and audits one decision per subject (PIPL Art. 54 audits; GDPR Art. 5(2)
accountability)."""

from __future__ import annotations

from typing import Any

from flwr.app import Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid

from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.consent.state import snapshot_digest
from compliance.database import Database
from compliance.policy.engine import PolicyEngine
from compliance.subjects.models import Brand
from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.lineage.service import BrandLineage, LineageService, ResumePoint
from federation.errors import FederationError
from federation.gate.report import GateReport
from federation.gate.rules import decide_subject
from federation.settings import RunSettings


def collect_gate_reports(grid: Grid, settings: RunSettings, nodes: list[int],
                         brand_of: dict[int, str] | None = None) -> dict[str, GateReport]:
    """Every brand's gate report; `brand_of`, when given, is filled with each node's brand."""
    msgs = [Message(RecordDict({"config": settings.to_record()}), dst_node_id=n,
                    message_type=MessageType.QUERY) for n in nodes]
    reports: dict[str, GateReport] = {}
    for reply in grid.send_and_receive(msgs, timeout=600):
        if reply.has_error():
            raise FederationError(f"brand node {reply.metadata.src_node_id} failed the gate: "
                                  f"{reply.error.reason}")
        report = GateReport.from_records(reply.content)
        reports[report.brand_id] = report
        if brand_of is not None:
            brand_of[reply.metadata.src_node_id] = report.brand_id
        if isinstance(grid, AuditingGrid):
            grid.declare(reply.metadata.src_node_id, *report.population)
    missing = sorted(set(settings.brands) - set(reports))
    if missing:
        raise FederationError(f"no gate report from brands: {', '.join(missing)}")
    return reports


def check_resumed_gate(db: Database, settings: RunSettings, reports: dict[str, GateReport],
                       resumed: ResumePoint) -> list[BrandLineage]:
    """A resumed run must train on exactly the rows it was gated on: each brand's consent
    snapshot digest must match the one recorded when the run started."""
    for brand in settings.brands:
        if reports[brand].consent_snapshot_sha256 != resumed.snapshots.get(brand):
            raise FederationError(f"brand '{brand}' no longer gates on the consent snapshot "
                                  "this run started with; start a new run")
    with db.reading() as session:
        return LineageService(session).lineage(settings.run_id)


def verify_and_audit_gate(db: Database, settings: RunSettings, engine: PolicyEngine,
                          reports: dict[str, GateReport]) -> list[BrandLineage]:
    """Recompute every brand's snapshot and decisions here; audit one event per subject."""
    lineage: list[BrandLineage] = []
    with db.unit_of_work() as session:
        audit = AuditLog(session)
        consent = ConsentService(session)
        for brand_id in settings.brands:
            rep = reports[brand_id]
            brand = session.get(Brand, brand_id)
            if brand is None:
                raise FederationError(f"brand '{brand_id}' is not registered")
            snapshot = consent.snapshot(brand_id, settings.purpose, settings.as_of)
            digest = snapshot_digest(snapshot)
            if digest != rep.consent_snapshot_sha256:
                raise FederationError(f"brand '{brand_id}' gated on a different consent "
                                      "snapshot than the compliance records")
            categories = frozenset(rep.categories)
            items: list[tuple[str, dict[str, Any], str | None, str | None]] = []
            allowed = 0
            for key, s in sorted(snapshot.items()):
                d = decide_subject(engine, s, brand_id=brand_id, purpose=settings.purpose,
                                   jurisdiction=brand.jurisdiction, categories=categories)
                allowed += d.allowed
                items.append(("gate.decision", {"run_id": settings.run_id, "subject": key,
                                                "purpose": settings.purpose,
                                                "allowed": d.allowed}, brand_id, d.rule_id))
            audit.record_many(items, actor=f"brand:{brand_id}")
            if rep.records_used > allowed:
                raise FederationError(f"brand '{brand_id}' reports {rep.records_used} records "
                                      f"used but only {allowed} subjects are allowed")
            audit.record("gate.summary", actor=f"brand:{brand_id}", brand_id=brand_id, data={
                "run_id": settings.run_id, "records_used": rep.records_used,
                "excluded_no_consent": rep.excluded_no_consent,
                "excluded_minor": rep.excluded_minor, "excluded_by_rule": rep.excluded_by_rule,
                "excluded_digest": rep.excluded_digest, "consent_snapshot_sha256": digest,
                "categories": sorted(categories),
                "dropped_columns": rep.dropped_columns})
            lineage.append(BrandLineage(brand_id, rep.records_used, rep.excluded_no_consent,
                                        rep.excluded_minor, digest, rep.dropped_columns))
    return lineage
