from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compliance.consent.state import (
    ConsentAction,
    ConsentFact,
    SubjectConsent,
    derive_state,
    snapshot_digest,
)
from compliance.policy.schemas import ConsentState

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_latest_event_wins_regardless_of_input_order() -> None:
    facts = [ConsentFact(T0 + timedelta(days=3), 2, ConsentAction.WITHDRAW),
             ConsentFact(T0, 1, ConsentAction.GRANT)]
    assert derive_state(facts) is ConsentState.WITHDRAWN
    regrant = [*facts, ConsentFact(T0 + timedelta(days=9), 3, ConsentAction.GRANT, True)]
    assert derive_state(regrant) is ConsentState.SEPARATE
    assert derive_state([]) is ConsentState.NONE


def test_snapshot_digest_is_order_independent_and_sensitive() -> None:
    a = {"k1": SubjectConsent(ConsentState.GRANTED, False, False),
         "k2": SubjectConsent(ConsentState.WITHDRAWN, False, False)}
    b = dict(reversed(list(a.items())))
    assert snapshot_digest(a) == snapshot_digest(b)
    c = {**a, "k2": SubjectConsent(ConsentState.GRANTED, False, False)}
    assert snapshot_digest(a) != snapshot_digest(c)
