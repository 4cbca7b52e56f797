"""Consent snapshots and summaries, built on the pure state derivation."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
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


def to_out(ev: ConsentEvent | Row[Any], subject_key: str) -> ConsentOut:
    """A stored event as the API shows it (built, not validated: the row was checked when
    it was written, and a brand's sync reads every one)."""
    return ConsentOut.model_construct(
        id=ev.id, brand_id=ev.brand_id, subject=subject_key, purpose=ev.purpose,
        action=ev.action, separate=ev.separate, by_guardian=ev.by_guardian,
        notice_version=ev.notice_version, channel=ev.channel, lawful_basis=ev.lawful_basis,
        actor=ev.actor, occurred_at=ev.occurred_at, recorded_at=ev.recorded_at)


def _fingerprint(body: ConsentIn) -> str:
    """The request's digest: its body without the time (and the key, for a batch's item:
    the same digest as the lone request's)."""
    return hashlib.sha256(body.model_dump_json(
        exclude={"occurred_at", "idempotency_key"}).encode()).hexdigest()


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


@dataclass
class _Group:
    """What planning a group knows: read once for all its writes (stored keys, the events
    they replay, existing subjects), then kept up to date as each write is planned, so a
    key or subject first seen earlier in the same group is found without a query."""
    stored: dict[tuple[int | None, str], int]
    prior: dict[int, Row[Any]]
    subjects: dict[tuple[str, str], tuple[int, str, bool]]  # id (0: new here), law, minor
    new: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    brands: dict[str, str | None] = field(default_factory=dict)  # jurisdiction or None
    seen: dict[tuple[int | None, str], tuple[ConsentWrite, int]] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)  # existing subjects with a new event
    guardians: set[int] = field(default_factory=set)  # ... and a guardian's grant


# A created event's answer in a `batch` group: the import counts its results, and building
# an answer per event was a tenth of its time (issue 24).
_CREATED: tuple[ConsentOut, bool] = (ConsentOut.model_construct(), True)


def _batch_audit(plans: Sequence[_Plan], ids: Sequence[int]
                 ) -> tuple[tuple[str, dict[str, Any], str | None, None], list[dict[str, Any]]]:
    """A batch's one audit event (what it holds: counts by action and purpose, the id range
    its anchors cover) and its `audit_subjects` rows, one per consent event, so the trace
    finds each subject's events."""
    actions: dict[str, int] = defaultdict(int)
    purposes: dict[str, int] = defaultdict(int)
    subjects: list[dict[str, Any]] = []
    late = 0
    for plan, event_id in zip(plans, ids, strict=True):
        body = plan.write.body
        actions[body.action] += 1
        purposes[plan.purpose] += 1
        late += plan.late
        subjects.append({"brand_id": body.brand_id, "subject": body.subject,
                         "action": f"consent.{body.action}", "purpose": plan.purpose,
                         "ref_id": event_id})
    brands = {p.write.body.brand_id for p in plans}
    data: dict[str, Any] = {"events": len(plans), "actions": dict(sorted(actions.items())),
                            "purposes": dict(sorted(purposes.items())),
                            "first_event_id": min(ids), "last_event_id": max(ids)}
    if late:
        data["late"] = late
    brand = next(iter(brands)) if len(brands) == 1 else None
    return ("consent.imported", data, brand, None), subjects


def _at_row(exc: ComityError, index: int) -> ComityError:
    """A batch's refusal named by its row (and field), so the brand finds the row in its
    export; the message keeps saying what is wrong, never the row's values."""
    exc.message = f"events[{index}]: {exc.message}"
    exc.args = (exc.message,)
    field_name = getattr(exc, "column", None)
    exc.details = {**exc.details, "row": index,
                   **({"field": str(field_name)} if field_name is not None else {})}
    return exc


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
                     serialized: bool = False, batch: bool = False
                     ) -> list[tuple[ConsentOut, bool] | ComityError]:
        """Several requests' events in the caller's one transaction, in order, with one
        audit append for all of them (group commit: one transaction, one fsync). Each
        request is checked before anything is written, so one that is refused (bad input, a
        409 on its Idempotency-Key) gets its error in its place and the others go on; an
        error while writing propagates and the caller rolls the whole group back.
        `serialized`: the caller holds the writers' lock (SQLite's write lock, PostgreSQL's
        audit advisory lock) from before the first key lookup, so no concurrent insert can
        collide and no savepoint is needed.

        The hot path of the consent API and of bulk imports: Core statements, no ORM unit
        of work, and a fixed number of them per group, not per event (issue 24): one SELECT
        of the keys already stored, one of the events those replay, one of the subjects,
        one subject upsert, one executemany of the events, one subject update, one audit
        append (each chunked by `repository._CHUNK` keys).

        `batch` (a brand's import): one `consent.imported` audit event for the whole group
        instead of one per event, anchoring every event it wrote (`anchor_rows`: their
        digests and the batch's SHA-256) and naming each event's subject in
        `audit_subjects`, so the 7-day trace and `verify` still resolve each consent event.
        A created event's answer is then a placeholder: the caller counts, never reads."""
        if serialized:
            AuditLog(self.session).lock()
        now = utcnow()
        stored = self.repo.event_ids_for_keys(
            (w.principal_id, w.idempotency_key) for w in writes if w.idempotency_key)
        group = _Group(stored, self.repo.events_with_keys(stored.values()) if stored else {},
                       self.repo.subjects_facts((w.body.brand_id, w.body.subject)
                                                for w in writes))
        slots: list[_Plan | int | tuple[ConsentOut, bool] | ComityError] = []
        for w in writes:
            slot: _Plan | int | tuple[ConsentOut, bool] | ComityError
            try:
                slot = self._plan(w, policies, now, group)
            except ComityError as exc:
                slot = exc
            if isinstance(slot, _Plan) and w.idempotency_key:
                group.seen[(w.principal_id, w.idempotency_key)] = (w, len(slots))
            slots.append(slot)
        plans = [(i, s) for i, s in enumerate(slots) if isinstance(s, _Plan)]
        if group.new:
            self.repo.insert_subjects(list(group.new.values()))
            group.subjects.update(self.repo.subjects_facts(group.new))
        rows = [self._row(p, group.subjects[(p.write.body.brand_id, p.write.body.subject)][0],
                          now) for _, p in plans]
        try:
            ids = self.repo.insert_events(rows, savepoint=not serialized)
        except IntegrityError:
            # Not serialized (PostgreSQL, outside the writer): a concurrent request took this
            # key first, and the savepoint kept our transaction usable.
            if len(plans) != 1 or plans[0][1].write.idempotency_key is None:
                raise
            w = plans[0][1].write
            assert w.idempotency_key is not None
            prior_id = self.repo.event_id_for_key(w.principal_id, w.idempotency_key)
            if prior_id is None:
                raise
            try:
                slots[plans[0][0]] = self._replay(
                    self.repo.events_with_keys([prior_id])[prior_id], w.body)
            except ConflictError as exc:
                slots[plans[0][0]] = exc
            plans, rows, ids = [], [], []
        audit: list[tuple[str, dict[str, Any], str | None, str | None]] = []
        actors: list[str] = []
        if batch:
            for i, _ in plans:
                slots[i] = _CREATED
        else:
            for (i, plan), row, event_id in zip(plans, rows, ids, strict=True):
                slots[i] = (self._out(plan, row, event_id), True)
                audit.append(plan.audit_item(event_id))
                actors.append(plan.write.actor)
        for activity in (group.active, group.guardians):
            activity.difference_update(plan.facts[0] for _, plan in plans if not plan.facts[0])
        self.repo.update_subjects(group.active, {"last_activity_at": now})
        self.repo.update_subjects(group.guardians, {"guardian_consent": True})
        if audit:
            AuditLog(self.session).record_many(audit, actor=actors[0], actors=actors,
                                               occurred_at=now)
        elif batch and plans:
            item, subjects = _batch_audit([p for _, p in plans], ids)
            AuditLog(self.session).record_many([item], actor=plans[0][1].write.actor,
                                               occurred_at=now, subjects=subjects)
        out: list[tuple[ConsentOut, bool] | ComityError] = []
        for slot in slots:
            if isinstance(slot, int):  # a key first used earlier in this group
                first = slots[slot]
                assert isinstance(first, tuple | ComityError)
                out.append(first if isinstance(first, ComityError) else (first[0], False))
            else:
                assert not isinstance(slot, _Plan)
                out.append(slot)
        return out

    def _plan(self, w: ConsentWrite, policies: PolicySet, now: datetime, group: _Group
              ) -> _Plan | int | tuple[ConsentOut, bool]:
        """Everything `record` decides before it writes: a replay's answer (the index of
        the group's first write under the same key, or the stored event's), or the event to
        append. Reads nothing the group did not read already, writes nothing, so a refusal
        here leaves the transaction as it was."""
        body, key = w.body, w.idempotency_key
        if key:
            earlier = group.seen.get((w.principal_id, key))
            if earlier is not None:
                if _comparable(earlier[0].body) != _comparable(body):
                    raise ConflictError(_KEY_REUSED)
                return earlier[1]
            prior_id = group.stored.get((w.principal_id, key))
            if prior_id is not None:
                return self._replay(group.prior[prior_id], body)
        purpose = policies.purpose(body.purpose)
        when = event_time(body.occurred_at, now, policies.consent_time)
        subject = (body.brand_id, body.subject)
        facts = group.subjects.get(subject)
        new_subject = None
        if facts is None:
            refuse_pii_subject_key(body.subject)
            if body.brand_id not in group.brands:
                brand = self.repo.brand(body.brand_id)
                group.brands[body.brand_id] = None if brand is None else brand.jurisdiction
            new_subject = group.brands[body.brand_id]
            if new_subject is None:
                raise NotFoundError("brand_id: the brand is not registered")
            facts = (0, new_subject, bool(body.is_minor))
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
        # Planned: what the group's later writes see of this subject.
        if new_subject is not None:
            group.subjects[subject] = facts
            group.new[subject] = {
                "brand_id": body.brand_id, "subject_key": body.subject,
                "jurisdiction": jurisdiction, "is_minor": is_minor,
                "guardian_consent": guardian, "created_at": now, "last_activity_at": now}
        elif subject in group.new:
            group.new[subject]["guardian_consent"] = (
                bool(group.new[subject]["guardian_consent"]) or guardian)
        else:
            group.active.add(facts[0])
            if guardian:
                group.guardians.add(facts[0])
        return _Plan(w, purpose.key, when.occurred_at, when.late, facts, new_subject, guardian)

    @staticmethod
    def _row(plan: _Plan, subject_id: int, now: datetime) -> dict[str, Any]:
        """The consent_events row of a planned event."""
        body, w = plan.write.body, plan.write
        return {"brand_id": body.brand_id, "subject_id": subject_id, "purpose": plan.purpose,
                "action": body.action, "separate": body.separate,
                "by_guardian": body.by_guardian, "notice_version": body.notice_version,
                "channel": body.channel, "lawful_basis": body.lawful_basis,
                "actor": w.actor, "occurred_at": plan.occurred_at, "recorded_at": now,
                "idempotency_key": w.idempotency_key, "principal_id": w.principal_id}

    @staticmethod
    def _out(plan: _Plan, row: dict[str, Any], event_id: int) -> ConsentOut:
        return ConsentOut.model_construct(  # the values just written, checked in _plan
            id=event_id, brand_id=row["brand_id"], subject=plan.write.body.subject,
            purpose=row["purpose"], action=row["action"], separate=row["separate"],
            by_guardian=row["by_guardian"], notice_version=row["notice_version"],
            channel=row["channel"], lawful_basis=row["lawful_basis"], actor=row["actor"],
            occurred_at=row["occurred_at"], recorded_at=row["recorded_at"])

    def record_many(self, events: list[ConsentImportItem], *, actor: str,
                    policies: PolicySet, principal_id: int | None = None
                    ) -> tuple[int, int]:
        """A batch of events, each under its own idempotency key, in the caller's one
        transaction, serialized with every other writer from its first read (so a batch
        sent twice at once still writes each event once): any bad event fails the whole
        batch, its error naming the row (`events[i]`, `details.row`) and field, never its
        values. Returns (created, replayed)."""
        writes = [ConsentWrite(item, actor, item.idempotency_key, principal_id)
                  for item in events]  # an item is a ConsentIn, validated already
        created = 0
        for i, result in enumerate(self.record_group(writes, policies=policies,
                                                     serialized=True, batch=True)):
            if isinstance(result, ComityError):
                raise _at_row(result, i)
            created += result[1]
        return created, len(events) - created

    def _replay(self, prior: Row[Any], body: ConsentIn) -> tuple[ConsentOut, bool]:
        same = (prior.brand_id, prior.subject_key, prior.purpose, prior.action, prior.separate,
                prior.by_guardian, prior.notice_version, prior.channel, prior.lawful_basis
                ) == _comparable(body)
        if not same:
            raise ConflictError(_KEY_REUSED)
        return to_out(prior, prior.subject_key), False

    def list_events(self, *, brand_id: str | None, subject: str | None, purpose: str | None,
             after_id: int, limit: int) -> list[ConsentOut]:
        return [to_out(row, row.subject_key) for row in self.repo.page(
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
