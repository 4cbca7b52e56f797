"""Row anchors: every row of the source-of-truth tables that exists before anchoring is
bound to one `audit.anchors` event, so that `comity audit verify` starts from a clean
baseline and reports any later edit, insert or delete (compliance/audit/anchors.py). No
schema change: anchors live in the audit events' data.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.orm import Session

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from compliance.audit.service import AuditLog

    session = Session(bind=op.get_bind())
    AuditLog(session).anchor_unanchored("migration 0007")
    session.flush()


def downgrade() -> None:
    pass  # the anchors are audit events: the append-only log keeps them
