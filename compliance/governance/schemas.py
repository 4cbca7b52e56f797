"""How governance records are shown (API and CLI alike): plain JSON-able dicts."""

from __future__ import annotations

from typing import Any

from compliance.governance.models import (
    CrossBorderTransfer,
    ImpactAssessment,
    Incident,
    TransferMechanism,
)


def assessment_json(row: ImpactAssessment, *, content: bool = True) -> dict[str, Any]:
    out = {"id": row.id, "purpose": row.purpose, "status": row.status,
           "triggers": row.triggers.get("rules", []), "author": row.author,
           "approved_by": row.approved_by, "created_at": row.created_at,
           "approved_at": row.approved_at, "expires_at": row.expires_at,
           "keep_until": row.keep_until}
    return {**out, "content": row.content} if content else out


def incident_json(row: Incident) -> dict[str, Any]:
    return {"id": row.id, "source": row.source, "status": row.status, "summary": row.summary,
            "details": row.details, "affected": row.affected, "deadlines": row.deadlines,
            "discovered_at": row.discovered_at, "opened_by": row.opened_by}


def mechanism_json(row: TransferMechanism) -> dict[str, Any]:
    return {"id": row.id, "handler": row.handler, "kind": row.kind,
            "valid_until": row.valid_until}


def transfer_json(row: CrossBorderTransfer) -> dict[str, Any]:
    return {"id": row.id, "rule_id": row.rule_id, "year": row.year,
            "mechanism_id": row.mechanism_id}
