"""Issuing a report: build it, render it, and record that it was issued (who, which period,
which format, the SHA-256 of the exact bytes handed out). A DPO archives the file; anyone
can later check an archived file against the audit log (PIPL Art. 54: audits, and their
reports, kept and traceable)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.errors import InputError
from compliance.report.builder import build_period_report
from compliance.report.period import Period, parse_period
from compliance.report.render import render

MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8",
         "pdf": "application/pdf"}


@dataclass(frozen=True)
class IssuedReport:
    body: bytes
    media_type: str
    sha256: str
    audit_seq: int


def requested(period: str, fmt: str) -> Period:
    """The period and format asked for; a malformed one is refused before any work."""
    if fmt not in MEDIA:
        raise InputError(f"format: use {', '.join(MEDIA)}", column="format")
    return parse_period(period)


def issue_report(db: Database, period: str, *, fmt: str, lang: str, actor: str,
                 deliver: Callable[[bytes], None] | None = None) -> IssuedReport:
    """Build, render and audit one report. `deliver(body)` (e.g. writing the file) runs
    inside the transaction that records `report.issued`, after the record: if it fails the
    record is rolled back, so the log never claims a report that nobody received."""
    parsed = requested(period, fmt)
    with db.reading() as session:
        built = build_period_report(session, parsed, lang=lang)
    body = render(built, fmt)
    digest = hashlib.sha256(body).hexdigest()
    with db.unit_of_work() as session:
        seq, _ = AuditLog(session).record("report.issued", actor=actor, data={
            "period": parsed.label, "format": fmt, "lang": lang, "sha256": digest,
            "bytes": len(body), "checklist": built["checklist"]["summary"]})
        if deliver is not None:
            deliver(body)
    return IssuedReport(body, MEDIA[fmt], digest, seq)
