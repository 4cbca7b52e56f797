"""Consent snapshots and summaries, built on the pure state derivation."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.consent.repository import ConsentRepository
from compliance.consent.schemas import ConsentImportItem, ConsentIn, ConsentOut
from compliance.consent.state import (
    ConsentAction,
    ConsentFact,
    SubjectConsent,
    derive_state,
    event_time,
)
from compliance.database import utcnow
from compliance.errors import ComityError, ConflictError, InputError, NotFoundError
from compliance.policy.schemas import PolicySet
from compliance.subjects.models import Subject
from privacy.detection.subject_keys import refuse_pii_subject_key
from privacy.pii import Pii


def to_out(ev: ConsentEvent, subject_key: str) -> ConsentOut:
    return ConsentOut(id=ev.id, brand_id=ev.brand_id, subject=subject_key, purpose=ev.purpose,
                      action=ev.action, separate=ev.separate, by_guardian=ev.by_guardian,
                      notice_version=ev.notice_version, channel=ev.channel,
                      lawful_basis=ev.lawful_basis, actor=ev.actor, occurred_at=ev.occurred_at,
                      recorded_at=ev.recorded_at)


def _fingerprint(body: ConsentIn) -> str:
    return hashlib.sha256(body.model_dump_json(exclude={"occurred_at"}).encode()).hexdigest()


_KEY_REUSED = "this Idempotency-Key was already used for a different consent event"


def _comparable(body: ConsentIn) -> tuple[object, ...]:
    """What a retry under the same Idempotency-Key must repeat (its time may differ)."""
    return (body.brand_id, body.subject, body.purpose, body.action, body.separate,
            body.by_guardian, body.notice_version, body.channel, body.lawful_basis)


@dataclass(frozen=True)
class ConsentWrite:
    """One request to append a consent event, as the API received it."""
    body: ConsentIn
    actor: str
    idempotency_key: str | None = None
    principal_id: int | None = None


@dataclass(frozen=True)
class _Plan:
    write: ConsentWrite
    purpose: str
    occurred_at: datetime
    late: bool
    facts: tuple[int, str, bool]  # subject id (0 while new), jurisdiction, minor
    new_jurisdiction: str | None  # set when the subject is first seen here
    guardian: bool  # a guardian's grant for a minor: the subject's guardian_consent

    def audit_item(self, event_id: int) -> tuple[str, dict[str, Any], str | None, None]:
        body = self.write.body
        data: dict[str, Any] = {
            "event_id": event_id, "subject": body.subject, "purpose": self.purpose,
            "separate": body.separate, "by_guardian": body.by_guardian,
            "notice_version": body.notice_version, "request": _fingerprint(body),
            "occurred_at": self.occurred_at.isoformat()}
        if self.late:
            data["late"] = True
        return f"consent.{body.action}", data, body.brand_id, None


class ConsentService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = ConsentRepository(session)

    def subject(self, brand_id: str, key: str, *, create: bool = False,
                is_minor: bool | None = None, guardian: bool = False) -> Subject:
        """The subject under `key`, created when asked. Every key enters here (consents,
        batches, imports, requests, state queries): one that reads as a raw identifier is
        refused before it can reach `subjects` or the audit log."""
        refuse_pii_subject_key(key)
        subj = self.repo.subject(brand_id, key)
        if subj is None:
            if not create:
                raise NotFoundError(f"subject {Pii(key)} not found for brand '{brand_id}'")
            brand = self.repo.brand(brand_id)
            if brand is None:
                raise NotFoundError("brand_id: the brand is not registered")
            subj = self.repo.add_subject(Subject(
                brand_id=brand_id, subject_key=key, jurisdiction=brand.jurisdiction,
                is_minor=bool(is_minor), guardian_consent=guardian))
        return subj

    def record(self, body: ConsentIn, *, actor: str, policies: PolicySet,
               idempotency_key: str | None = None, principal_id: int | None = None
               ) -> tuple[ConsentOut, bool]:
        """Append one consent event; returns (event, created). A retried request with the
        same Idempotency-Key returns the first event; a different body under it is a 409.
        Keys are scoped per principal (`principal_id`, who sent it): another brand's key
        never collides."""
        result = self.record_group([ConsentWrite(body, actor, idempotency_key, principal_id)],
                                   policies=policies)[0]
        if isinstance(result, ComityError):
            raise result
        return result

    def record_group(self, writes: Sequence[ConsentWrite], *, policies: PolicySet,
                     serialized: bool = False) -> list[tuple[ConsentOut, bool] | ComityError]:
        """Several requests' events in the caller's one transaction, in order, with one
        audit append for all of them (group commit: one transaction, one fsync). Each
        request is checked before it writes anything, so one that is refused (bad input, a
        409 on its Idempotency-Key) gets its error in its place and the others go on; an
        error while writing propagates and the caller rolls the whole group back.
        `serialized`: the caller holds the writers' lock (SQLite's write lock, PostgreSQL's
        audit advisory lock) from before the first key lookup, so no concurrent insert can
        collide and no savepoint is needed.

        The hot path of the consent API: Core statements, no ORM unit of work."""
        if serialized:
            AuditLog(self.session).lock()
        now = utcnow()
        out: list[tuple[ConsentOut, bool] | ComityError] = []
        audit: list[tuple[str, dict[str, Any], str | None, str | None]] = []
        actors: list[str] = []
        seen: dict[tuple[int | None, str], tuple[ConsentWrite, ConsentOut]] = {}
        subjects: dict[tuple[str, str], tuple[int, str, bool]] = {}
        touched: dict[int, dict[str, object]] = {}
        for w in writes:
            try:
                plan = self._plan(w, policies, now, seen, subjects)
            except ComityError as exc:
                out.append(exc)
                continue
            if isinstance(plan, tuple):
                out.append(plan)
                continue
            try:
                result = self._apply(plan, now, subjects, touched, serialized)
            except IntegrityError:
                # Not serialized (PostgreSQL, outside the writer): a concurrent request took
                # this key first, and the savepoint kept our transaction usable.
                prior_id = (self.repo.event_id_for_key(w.principal_id, w.idempotency_key)
                            if w.idempotency_key and not serialized else None)
                if prior_id is None or w.idempotency_key is None:
                    raise
                try:
                    out.append(self._replay(prior_id, w.body, w.idempotency_key))
                except ConflictError as exc:
                    out.append(exc)
                continue
            out.append((result, True))
            if w.idempotency_key:
                seen[(w.principal_id, w.idempotency_key)] = (w, result)
            audit.append(plan.audit_item(result.id))
            actors.append(w.actor)
        for subject_id, values in touched.items():
            self.repo.update_subject(subject_id, values)
        if audit:
            AuditLog(self.session).record_many(audit, actor=actors[0], actors=actors,
                                               occurred_at=now)
        return out

    def _plan(self, w: ConsentWrite, policies: PolicySet, now: datetime,
              seen: dict[tuple[int | None, str], tuple[ConsentWrite, ConsentOut]],
              subjects: dict[tuple[str, str], tuple[int, str, bool]]
              ) -> _Plan | tuple[ConsentOut, bool]:
        """Everything `record` decides before it writes: a replay's answer, or the event to
        append. Reads only, so a refusal here leaves the transaction as it was."""
        body, key = w.body, w.idempotency_key
        if key:
            earlier = seen.get((w.principal_id, key))
            if earlier is not None:
                if _comparable(earlier[0].body) != _comparable(body):
                    raise ConflictError(_KEY_REUSED)
                return earlier[1], False
            prior_id = self.repo.event_id_for_key(w.principal_id, key)
            if prior_id is not None:
                return self._replay(prior_id, body, key)
        purpose = policies.purpose(body.purpose)
        when = event_time(body.occurred_at, now, policies.consent_time)
        facts = subjects.get((body.brand_id, body.subject))
        new_subject = None
        if facts is None:
            row = self.repo.subject_facts(body.brand_id, body.subject)
            if row is None:
                refuse_pii_subject_key(body.subject)
                brand = self.repo.brand(body.brand_id)
                if brand is None:
                    raise NotFoundError("brand_id: the brand is not registered")
                new_subject = brand.jurisdiction
                facts = (0, brand.jurisdiction, bool(body.is_minor))
            else:
                facts = (row[0], row[1], bool(row[2]))
        _, jurisdiction, is_minor = facts
        rules = policies.jurisdictions[jurisdiction]
        guardian = False
        if body.action == "grant":
            if purpose.key in rules.separate_consent_purposes and not body.separate:
                raise InputError(f"purpose '{purpose.key}' needs separate consent under "
                                 f"{jurisdiction.upper()} ({rules.title}): set "
                                 "`separate: true` with its own notice", column="separate")
            if is_minor and not body.by_guardian:
                raise InputError(f"subject is a minor under {jurisdiction.upper()}: "
                                 "consent must come from a parent or guardian "
                                 "(`by_guardian: true`)", column="by_guardian")
            guardian = is_minor and body.by_guardian
        return _Plan(w, purpose.key, when.occurred_at, when.late, facts, new_subject, guardian)

    def _apply(self, plan: _Plan, now: datetime,
               subjects: dict[tuple[str, str], tuple[int, str, bool]],
               touched: dict[int, dict[str, object]], serialized: bool) -> ConsentOut:
        """The writes of one planned event: its subject when new, the event row (anchored);
        the subject's activity is updated once per group, after the loop."""
        body, w = plan.write.body, plan.write
        subject_id, jurisdiction, is_minor = plan.facts
        if plan.new_jurisdiction is not None:
            subject_id = self.repo.insert_subject({
                "brand_id": body.brand_id, "subject_key": body.subject,
                "jurisdiction": jurisdiction, "is_minor": is_minor,
                "guardian_consent": plan.guardian, "created_at": now,
                "last_activity_at": now})
        else:
            values = touched.setdefault(subject_id, {})
            values["last_activity_at"] = now
            if plan.guardian:
                values["guardian_consent"] = True
        subjects[(body.brand_id, body.subject)] = (subject_id, jurisdiction, is_minor)
        values = {"brand_id": body.brand_id, "subject_id": subject_id, "purpose": plan.purpose,
                  "action": body.action, "separate": body.separate,
                  "by_guardian": body.by_guardian, "notice_version": body.notice_version,
                  "channel": body.channel, "lawful_basis": body.lawful_basis,
                  "actor": w.actor, "occurred_at": plan.occurred_at, "recorded_at": now,
                  "idempotency_key": w.idempotency_key, "principal_id": w.principal_id}
        event_id = self.repo.insert_event(values, savepoint=not serialized)
        return ConsentOut(id=event_id, brand_id=body.brand_id, subject=body.subject,
                          purpose=plan.purpose, action=body.action, separate=body.separate,
                          by_guardian=body.by_guardian, notice_version=body.notice_version,
                          channel=body.channel, lawful_basis=body.lawful_basis,
                          actor=w.actor, occurred_at=plan.occurred_at, recorded_at=now)

    def record_many(self, events: list[ConsentImportItem], *, actor: str,
                    policies: PolicySet, principal_id: int | None = None
                    ) -> tuple[int, int]:
        """A batch of events, each under its own idempotency key, in the caller's one
        transaction: any bad event fails the whole batch. Returns (created, replayed)."""
        writes = [ConsentWrite(ConsentIn.model_validate(item.model_dump(
            exclude={"idempotency_key"})), actor, item.idempotency_key, principal_id)
            for item in events]
        created = 0
        for result in self.record_group(writes, policies=policies):
            if isinstance(result, ComityError):
                raise result
            created += result[1]
        return created, len(events) - created

    def _replay(self, prior_id: int, body: ConsentIn, key: str
                ) -> tuple[ConsentOut, bool]:
        prior = self.repo.event(prior_id)
        subj = self.repo.subject_by_id(prior.subject_id)
        assert subj is not None
        same = (prior.brand_id, subj.subject_key, prior.purpose, prior.action, prior.separate,
                prior.by_guardian, prior.notice_version, prior.channel, prior.lawful_basis
                ) == _comparable(body)
        if not same:
            raise ConflictError(_KEY_REUSED)
        return to_out(prior, subj.subject_key), False

    def list_events(self, *, brand_id: str | None, subject: str | None, purpose: str | None,
             after_id: int, limit: int) -> list[ConsentOut]:
        return [to_out(ev, key) for ev, key in self.repo.page(
            brand_id=brand_id, subject=subject, purpose=purpose, after_id=after_id,
            limit=limit)]

    def states(self, brand_id: str, subject_key: str, as_of: datetime | None = None
               ) -> dict[str, str]:
        subj = self.subject(brand_id, subject_key)
        facts: dict[str, list[ConsentFact]] = defaultdict(list)
        for ev in self.repo.events_of_subject(subj.id):
            if as_of is None or ev.occurred_at <= as_of:
                facts[ev.purpose].append(ConsentFact(ev.occurred_at, ev.id,
                                                     ConsentAction(ev.action), ev.separate))
        return {p: derive_state(fs).value for p, fs in sorted(facts.items())}

    def snapshot(self, brand_id: str, purpose: str, as_of: datetime) -> dict[str, SubjectConsent]:
        """Consent state of every subject of a brand for one purpose at `as_of`."""
        facts: dict[str, list[ConsentFact]] = defaultdict(list)
        flags: dict[str, tuple[bool, bool]] = {}
        for row in self.repo.events_for(brand_id, purpose, as_of):
            flags[row.subject_key] = (row.is_minor, row.guardian_consent)
            if row.id is not None:
                facts[row.subject_key].append(
                    ConsentFact(row.occurred_at, row.id, ConsentAction(row.action), row.separate))
        return {
            key: SubjectConsent(derive_state(facts.get(key, ())), minor, guardian)
            for key, (minor, guardian) in flags.items()
        }

    def facts_by_subject(self, as_of: datetime
                         ) -> dict[tuple[str, int, str], list[ConsentFact]]:
        """Every consent fact dated up to `as_of`, keyed by (brand, subject id, purpose),
        with the time each was recorded (reports filter on both: what was known when)."""
        facts: dict[tuple[str, int, str], list[ConsentFact]] = defaultdict(list)
        for row in self.repo.all_events(as_of):
            facts[(row.brand_id, row.subject_id, row.purpose)].append(
                ConsentFact(row.occurred_at, row.id, ConsentAction(row.action), row.separate,
                            row.recorded_at))
        return facts
