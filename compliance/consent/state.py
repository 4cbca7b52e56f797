"""Pure derivation of consent state from events, and the snapshot digest used as lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from compliance.errors import InputError
from compliance.policy.schemas import ConsentState, ConsentTimePolicy


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"
    REFUSE = "refuse"


def age_on(born: date, on: date) -> int:
    """Whole years of age on a day: who is a minor under a law's `minor_age`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class EventTime:
    """When an event counts from (`occurred_at`) and whether it arrived late."""
    occurred_at: datetime
    late: bool


def event_time(claimed: datetime | None, recorded_at: datetime,
               policy: ConsentTimePolicy) -> EventTime:
    """The time semantics of consent events (policies/consent.yaml).

    An event never counts from after it was recorded: a date up to the clock skew ahead is
    taken as `recorded_at`, one further ahead is refused. Otherwise a future-dated grant
    would outrank every withdrawal until that date, and PIPL Art. 15 / GDPR Art. 7(3) make
    withdrawal effective at once. A date further back than `late_after_seconds` is kept (a
    CRM export, a paper form) but marked late, so reports show it as a correction."""
    if claimed is None:
        return EventTime(recorded_at, False)
    if claimed.tzinfo is None:
        raise InputError("occurred_at needs a time zone (e.g. 2026-01-31T12:00:00Z)",
                         column="occurred_at")
    ahead = claimed - recorded_at
    if ahead > timedelta(seconds=policy.max_clock_skew_seconds):
        raise InputError(f"occurred_at is {int(ahead.total_seconds())} s in the future; "
                         f"at most {policy.max_clock_skew_seconds} s of clock skew is allowed",
                         column="occurred_at")
    if ahead > timedelta(0):
        return EventTime(recorded_at, False)
    return EventTime(claimed, -ahead > timedelta(seconds=policy.late_after_seconds))


@dataclass(frozen=True)
class ConsentFact:
    occurred_at: datetime
    seq: int
    action: ConsentAction
    separate: bool = False
    recorded_at: datetime | None = None


def derive_state(facts: Iterable[ConsentFact]) -> ConsentState:
    """The latest event wins (PIPL Art. 15: withdrawal affects only future processing),
    ordered by (occurred_at, seq): deterministic whatever order the facts come in. No event
    counts from after it was recorded (`event_time`), so no grant outranks a withdrawal
    recorded after it."""
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
