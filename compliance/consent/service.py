"""Consent snapshots and summaries, built on the pure state derivation."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

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
from compliance.errors import ConflictError, InputError, NotFoundError
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
        never collides.

        The hot path of the consent API: Core statements, one flush, no ORM unit of work."""
        if idempotency_key:
            prior_id = self.repo.event_id_for_key(principal_id, idempotency_key)
            if prior_id is not None:
                return self._replay(prior_id, body, idempotency_key)
        purpose = policies.purpose(body.purpose)
        now = utcnow()
        when = event_time(body.occurred_at, now, policies.consent_time)
        row = self.repo.subject_facts(body.brand_id, body.subject)
        if row is None:
            subj = self.subject(body.brand_id, body.subject, create=True,
                                is_minor=body.is_minor)
            subject_id, jurisdiction, is_minor = subj.id, subj.jurisdiction, subj.is_minor
        else:
            subject_id, jurisdiction, is_minor = row
        rules = policies.jurisdictions[jurisdiction]
        subject_values: dict[str, object] = {"last_activity_at": now}
        if body.action == "grant":
            if purpose.key in rules.separate_consent_purposes and not body.separate:
                raise InputError(f"purpose '{purpose.key}' needs separate consent under "
                                 f"{jurisdiction.upper()} ({rules.title}): set "
                                 "`separate: true` with its own notice", column="separate")
            if is_minor and not body.by_guardian:
                raise InputError(f"subject is a minor under {jurisdiction.upper()}: "
                                 "consent must come from a parent or guardian "
                                 "(`by_guardian: true`)", column="by_guardian")
            if is_minor and body.by_guardian:
                subject_values["guardian_consent"] = True
        values = {"brand_id": body.brand_id, "subject_id": subject_id, "purpose": purpose.key,
                  "action": body.action, "separate": body.separate,
                  "by_guardian": body.by_guardian, "notice_version": body.notice_version,
                  "channel": body.channel, "lawful_basis": body.lawful_basis, "actor": actor,
                  "occurred_at": when.occurred_at, "recorded_at": now,
                  "idempotency_key": idempotency_key, "principal_id": principal_id}
        try:
            event_id = self.repo.insert_event(values)
        except IntegrityError:
            prior_id = (self.repo.event_id_for_key(principal_id, idempotency_key)
                        if idempotency_key else None)
            if prior_id is None or idempotency_key is None:
                raise
            return self._replay(prior_id, body, idempotency_key)
        self.repo.update_subject(subject_id, subject_values)
        data: dict[str, object] = {
            "event_id": event_id, "subject": body.subject, "purpose": purpose.key,
            "separate": body.separate, "by_guardian": body.by_guardian,
            "notice_version": body.notice_version, "request": _fingerprint(body),
            "occurred_at": when.occurred_at.isoformat()}
        if when.late:
            data["late"] = True
        AuditLog(self.session).record(f"consent.{body.action}", actor=actor,
                                      brand_id=body.brand_id, data=data)
        values.pop("subject_id")
        values.pop("idempotency_key")
        values.pop("principal_id")
        return ConsentOut(id=event_id, subject=body.subject, **values), True  # type: ignore[arg-type]

    def record_many(self, events: list[ConsentImportItem], *, actor: str,
                    policies: PolicySet, principal_id: int | None = None
                    ) -> tuple[int, int]:
        """A batch of events, each under its own idempotency key, in the caller's one
        transaction: any bad event fails the whole batch. Returns (created, replayed)."""
        created = 0
        for item in events:
            body = ConsentIn.model_validate(item.model_dump(exclude={"idempotency_key"}))
            _, new = self.record(body, actor=actor, policies=policies,
                                 idempotency_key=item.idempotency_key,
                                 principal_id=principal_id)
            created += new
        return created, len(events) - created

    def _replay(self, prior_id: int, body: ConsentIn, key: str
                ) -> tuple[ConsentOut, bool]:
        prior = self.repo.event(prior_id)
        subj = self.repo.subject_by_id(prior.subject_id)
        assert subj is not None
        same = (prior.brand_id, subj.subject_key, prior.purpose, prior.action, prior.separate,
                prior.by_guardian, prior.notice_version, prior.channel, prior.lawful_basis
                ) == (body.brand_id, body.subject, body.purpose, body.action, body.separate,
                      body.by_guardian, body.notice_version, body.channel, body.lawful_basis)
        if not same:
            raise ConflictError("this Idempotency-Key was already used for a "
                                "different consent event")
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
