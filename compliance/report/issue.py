"""Issuing a report: build it, render it, and record that it was issued (who, which period,
which format, the SHA-256 of the exact bytes handed out). A DPO archives the file; anyone
can later check an archived file against the audit log (PIPL Art. 54: audits, and their
reports, kept and traceable)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.report.builder import build_period_report
from compliance.report.period import parse_period
from compliance.report.render import render

MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8",
         "pdf": "application/pdf"}


@dataclass(frozen=True)
class IssuedReport:
    body: bytes
    media_type: str
    sha256: str
    audit_seq: int


def issue_report(db: Database, period: str, *, fmt: str, lang: str, actor: str
                 ) -> IssuedReport:
    parsed = parse_period(period)
    with db.reading() as session:
        built = build_period_report(session, parsed, lang=lang)
    body = render(built, fmt)
    digest = hashlib.sha256(body).hexdigest()
    with db.unit_of_work() as session:
        seq, _ = AuditLog(session).record("report.issued", actor=actor, data={
            "period": parsed.label, "format": fmt, "lang": lang, "sha256": digest,
            "bytes": len(body), "checklist": built["checklist"]["summary"]})
    return IssuedReport(body, MEDIA[fmt], digest, seq)
