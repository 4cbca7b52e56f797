"""The demo's governance step: an approved assessment, a transfer refused past its band
(the refusal audited), an incident (issue 22)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.governance.models import CrossBorderTransfer
from federation.governance_demo import demo_governance

pytestmark = pytest.mark.integration


def test_demo_governance(db: Database) -> None:
    out = demo_governance(db, ("lumen-tea", "jade-beauty"))
    assert out["agreement"] == "2026.1"
    assert out["transfer"] == "cross_border.provisions_art5_6.exempt"
    assert out["transfer_refused"] == "cross_border.provisions_art8.over_100k"
    with db.reading() as s:
        assert len(s.scalars(select(CrossBorderTransfer)).all()) == 1  # the refused one: none
        refused = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "transfer.refused")).one()
        assert refused.rule_id == out["transfer_refused"]
        assert AuditLog(s).verify().verified
