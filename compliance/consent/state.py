"""Pure derivation of consent state from events, and the snapshot digest used as lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from compliance.policy.schemas import ConsentState


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"
    REFUSE = "refuse"


def age_on(born: date, on: date) -> int:
    """Whole years of age on a day: who is a minor under a law's `minor_age`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class ConsentFact:
    occurred_at: datetime
    seq: int
    action: ConsentAction
    separate: bool = False


def derive_state(facts: Iterable[ConsentFact]) -> ConsentState:
    """The latest event wins (PIPL Art. 15: withdrawal affects only future processing)."""
    last: ConsentFact | None = None
    for f in facts:
        if last is None or (f.occurred_at, f.seq) > (last.occurred_at, last.seq):
            last = f
    if last is None:
        return ConsentState.NONE
    if last.action is ConsentAction.GRANT:
        return ConsentState.SEPARATE if last.separate else ConsentState.GRANTED
    if last.action is ConsentAction.WITHDRAW:
        return ConsentState.WITHDRAWN
    return ConsentState.REFUSED


@dataclass(frozen=True)
class SubjectConsent:
    state: ConsentState
    is_minor: bool
    guardian_consent: bool


def snapshot_digest(snapshot: Mapping[str, SubjectConsent]) -> str:
    """SHA-256 over the sorted (subject pseudonym, state, minor, guardian) lines; brand and
    coordinator compute it independently and must agree."""
    h = hashlib.sha256()
    for key in sorted(snapshot):
        s = snapshot[key]
        h.update(f"{key}\t{s.state.value}\t{int(s.is_minor)}\t{int(s.guardian_consent)}\n"
                 .encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal of consent that was in force: from `granted_at` until `withdrawn_at`
    a run could rely on it; a model trained in between is flagged once it is withdrawn."""
    granted_at: datetime
    withdrawn_at: datetime


def withdrawals(facts: Iterable[ConsentFact]) -> list[Withdrawal]:
    """Every withdrawal that ended a grant, in time order (repeated grants count anew)."""
    out: list[Withdrawal] = []
    since: datetime | None = None
    for f in sorted(facts, key=lambda f: (f.occurred_at, f.seq)):
        if f.action is ConsentAction.GRANT:
            since = since or f.occurred_at
        else:
            if f.action is ConsentAction.WITHDRAW and since is not None:
                out.append(Withdrawal(since, f.occurred_at))
            since = None
    return out
