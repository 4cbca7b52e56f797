"""A training run outside the alliance agreement is refused with the rule id before the
coordinator opens it or sends anything to a brand (PIPL Art. 20-21; GDPR Art. 26)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.governance.errors import RunRefused
from federation.coordinator.coordinator import run_federated
from federation.coordinator.lineage.models import TrainingRun
from federation.settings import RunSettings

pytestmark = pytest.mark.integration


class SilentGrid:
    """Nodes are connected; any message to a brand fails the test."""

    def get_node_ids(self) -> list[int]:
        return [1, 2]

    def send_and_receive(self, *_a: Any, **_k: Any) -> Any:
        raise AssertionError("a refused run must not reach any brand")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected grid call {name}")


@pytest.mark.parametrize("brands,purpose,rule", [
    (("lumen-tea", "stranger-shop"), "model_training", "alliance.art20.party"),
    (("lumen-tea", "jade-beauty"), "marketing", "alliance.art20.purpose"),
])
def test_run_outside_agreement_is_refused_before_it_opens(db: Database, brands: tuple[str, ...],
                                                          purpose: str, rule: str) -> None:
    settings = RunSettings(run_id="run-x", brands=brands,
                           consent_as_of=datetime.now(UTC).isoformat(), purpose=purpose)
    with pytest.raises(RunRefused) as exc:
        run_federated(SilentGrid(), settings, db)  # type: ignore[arg-type]
    assert exc.value.rule_id == rule
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(TrainingRun)) == 0
        assert s.scalar(select(AuditEvent.rule_id).where(
            AuditEvent.action == "governance.refused")) == rule
