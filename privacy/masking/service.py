"""Masked customer lookups for a brand's staff and the supervisor's confirmed reveal.

Tiered operator authorisation (PIPL Art. 51(3)): a staff operator of a brand sees its
customers' sensitive fields only masked; a supervisor may see one field in clear, for a
stated reason, after a second principal (another supervisor of the brand, or a DPO)
confirmed it, once, within the confirmation window. Values are decrypted from the vault for
the one response and never written anywhere else: audit events and errors name the field
and the subject's pseudonym, never a value (`privacy.pii.Pii` where a pseudonym reaches a
message). Which role sees which category how is data: policies/masking.yaml.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.database import utcnow
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.subjects.models import Subject
from compliance.tokens.service import ForbiddenError, Principal
from privacy.masking.masks import mask
from privacy.masking.models import PiiReveal
from privacy.masking.policy import MaskingPolicy, Tier
from privacy.masking.schemas import LookupOut, MaskedField, RevealedValue, RevealOut
from privacy.pii import Pii
from privacy.vault.service import Vault


def _tier(principal: Principal, brand_id: str) -> Tier:
    """The caller's operator tier at `brand_id`; anyone else is refused."""
    if principal.kind not in ("staff", "supervisor") or principal.brand_id != brand_id:
        raise ForbiddenError(f"role '{principal.role}' may not look up customers of brand "
                             f"'{brand_id}' (needs brand:{brand_id}:staff or :supervisor)")
    return principal.kind  # type: ignore[return-value]


class LookupService:
    def __init__(self, session: Session, policy: MaskingPolicy,
                 vault: Vault | None = None) -> None:
        self.session = session
        self.policy = policy
        self.vault = vault if vault is not None else Vault(session)
        self.audit = AuditLog(session)

    def _subject(self, brand_id: str, pseudonym: str) -> Subject:
        subj = self.session.scalar(select(Subject).where(
            Subject.brand_id == brand_id, Subject.subject_key == pseudonym))
        if subj is None or subj.erased_at is not None:
            raise NotFoundError(f"no customer {Pii(pseudonym)} at brand '{brand_id}'")
        return subj

    def _stored(self, subj: Subject) -> dict[str, str]:
        try:
            return self.vault.get(subj.id)
        except NotFoundError:
            return {}

    def lookup(self, principal: Principal, brand_id: str, pseudonym: str) -> LookupOut:
        """The customer's stored fields as the caller's tier may see them: masked or not at
        all, never in clear. Audited as `pii.lookup` (fields and categories, no values)."""
        tier = _tier(principal, brand_id)
        view = self.policy.roles[tier]
        subj = self._subject(brand_id, pseudonym)
        shown: list[MaskedField] = []
        hidden: list[str] = []
        for name, value in sorted(self._stored(subj).items()):
            category = self.policy.category(name)
            mode = view.mode(category) if category else "hidden"
            if category is None or mode == "hidden":
                hidden.append(name)
                continue
            shown.append(MaskedField(field=name, category=category, value=mask(category, value),
                                     revealable=mode == "confirmed_clear"))
        seq, _ = self.audit.record("pii.lookup", actor=principal.actor, brand_id=brand_id,
                                   rule_id=f"masking.{tier}", data={
                                       "subject": pseudonym, "fields": [f.field for f in shown],
                                       "categories": sorted({f.category for f in shown}),
                                       "hidden": hidden, "mode": "masked"})
        return LookupOut(brand_id=brand_id, subject=pseudonym, fields=shown, hidden=hidden,
                         audit_seq=seq)

    def _out(self, r: PiiReveal, pseudonym: str) -> RevealOut:
        now = utcnow()
        status = ("revealed" if r.revealed_at else "expired" if r.expires_at <= now
                  else "confirmed" if r.approved_at else "pending")
        return RevealOut(id=r.id, brand_id=r.brand_id, subject=pseudonym, field=r.field,
                         status=status, requested_by=r.requested_by,
                         approved_by=r.approved_by, expires_at=r.expires_at)

    def request_reveal(self, principal: Principal, brand_id: str, pseudonym: str, field: str,
                       reason: str) -> RevealOut:
        """A supervisor asks to see one field in clear; nothing is shown until a second
        principal confirms (`confirm`). Audited as `pii.reveal_requested` with the reason."""
        tier = _tier(principal, brand_id)
        category = self.policy.category(field)
        if category is None or self.policy.roles[tier].mode(category) != "confirmed_clear":
            raise ForbiddenError(f"role '{principal.role}' may not see field '{field[:64]}' "
                                 "in clear (policies/masking.yaml)")
        reason = reason.strip()
        if len(reason) < self.policy.reveal.min_reason_length:
            raise InputError(f"state the reason in at least "
                             f"{self.policy.reveal.min_reason_length} characters",
                             column="reason")
        subj = self._subject(brand_id, pseudonym)
        if field not in self._stored(subj):
            raise NotFoundError(f"customer {Pii(pseudonym)} has no stored '{field[:64]}'")
        now = utcnow()
        row = PiiReveal(brand_id=brand_id, subject_id=subj.id, field=field, reason=reason,
                        requested_by=principal.actor, requested_by_id=principal.principal_id,
                        created_at=now, expires_at=now + timedelta(
                            minutes=self.policy.reveal.confirm_within_minutes))
        self.session.add(row)
        self.session.flush()
        self.audit.record("pii.reveal_requested", actor=principal.actor, brand_id=brand_id,
                          rule_id="masking.supervisor", data={
                              "reveal_id": row.id, "subject": pseudonym, "field": field,
                              "category": category, "reason": reason})
        return self._out(row, pseudonym)

    def _reveal(self, reveal_id: int) -> tuple[PiiReveal, str]:
        row = self.session.get(PiiReveal, reveal_id)
        if row is None:
            raise NotFoundError(f"reveal {reveal_id} not found")
        key = self.session.get_one(Subject, row.subject_id).subject_key
        return row, key

    def confirm(self, principal: Principal, reveal_id: int) -> RevealOut:
        """The second confirmation: another supervisor of the brand or a DPO, never the
        principal who asked (a second token of the same person is the same person)."""
        principal.require("supervisor", "dpo")
        row, pseudonym = self._reveal(reveal_id)
        if not (principal.kind == "dpo" or principal.brand_id == row.brand_id):
            raise ForbiddenError(f"role '{principal.role}' may not confirm reveals of brand "
                                 f"'{row.brand_id}' (needs a supervisor of it or a dpo)")
        if principal.principal_id == row.requested_by_id:
            raise ForbiddenError("a reveal must be confirmed by a different person than the "
                                 "one who asked for it")
        if row.approved_at is not None or row.revealed_at is not None:
            raise ConflictError(f"reveal {reveal_id} was already confirmed")
        now = utcnow()
        if row.expires_at <= now:
            raise ConflictError(f"reveal {reveal_id} expired unconfirmed")
        row.approved_by, row.approved_by_id, row.approved_at = (principal.actor,
                                                                principal.principal_id, now)
        self.session.flush()
        self.audit.record("pii.reveal_confirmed", actor=principal.actor, brand_id=row.brand_id,
                          rule_id="masking.second_confirmation", data={
                              "reveal_id": row.id, "subject": pseudonym, "field": row.field,
                              "requested_by": row.requested_by})
        return self._out(row, pseudonym)

    def open(self, principal: Principal, reveal_id: int) -> RevealedValue:
        """The one field in clear, once, to the supervisor who asked, after confirmation and
        before expiry. Audited as `pii.revealed` (field, no value)."""
        principal.require("supervisor")
        row, pseudonym = self._reveal(reveal_id)
        if principal.principal_id != row.requested_by_id or principal.brand_id != row.brand_id:
            raise ForbiddenError("only the supervisor who asked may open a reveal")
        if row.approved_at is None:
            raise ConflictError(f"reveal {reveal_id} awaits its second confirmation")
        if row.revealed_at is not None:
            raise ConflictError(f"reveal {reveal_id} was already opened (one use)")
        now = utcnow()
        if row.expires_at <= now:
            raise ConflictError(f"reveal {reveal_id} expired")
        subj = self.session.get_one(Subject, row.subject_id)
        value = self._stored(subj).get(row.field)
        if value is None:
            raise NotFoundError(f"customer {Pii(pseudonym)} no longer has '{row.field}'")
        row.revealed_at = now
        self.session.flush()
        self.audit.record("pii.revealed", actor=principal.actor, brand_id=row.brand_id,
                          rule_id="masking.supervisor", data={
                              "reveal_id": row.id, "subject": pseudonym, "field": row.field,
                              "approved_by": row.approved_by})
        return RevealedValue(id=row.id, field=row.field, value=value)
