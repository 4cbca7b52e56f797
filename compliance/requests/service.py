"""Data-subject requests: intake with a jurisdiction's deadline, tracking, execution.

Deadlines come from policies/requests.yaml. Execution does what the law asks: an export
(PIPL Art. 45, GDPR Art. 15/20, CCPA 1798.110), correction (Art. 46 / GDPR 16), deletion
by crypto-shredding (Art. 47 / GDPR 17 / CCPA 1798.105), withdrawal (Art. 15), and refusing
personalization or automated decisions (Art. 24 / GDPR 21-22).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.consent.schemas import ConsentIn
from compliance.consent.service import ConsentService
from compliance.database import idempotency_match, utcnow
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.policy.schemas import PolicySet
from compliance.requests.models import SubjectRequest
from compliance.requests.schemas import RequestIn, RequestOut, RequestPatch
from compliance.subjects.models import Subject
from privacy.vault.service import Vault

CLOSED = ("completed", "rejected")
NEEDS_SECOND_PERSON = ("access", "portability", "deletion")
SEALED = "sealed"  # `details` holds only this: the payload sealed under the subject's key


class ApprovalError(ConflictError):
    status_code = 409


class RequestService:
    def __init__(self, session: Session, policies: PolicySet, vault: Vault | None = None
                 ) -> None:
        self.session = session
        self.policies = policies
        self.audit = AuditLog(session)
        self.vault = vault if vault is not None else Vault(session)

    def _seal(self, subject_id: int, request_id: str, details: dict[str, Any]
              ) -> dict[str, Any]:
        """A payload may carry personal data (a correction's new phone number): it is kept
        only sealed under the subject's data key, so that erasing the subject erases it too
        (crypto-shredding, PIPL Art. 47 / GDPR Art. 17)."""
        if not details:
            return {}
        return {SEALED: self.vault.seal_record(subject_id, f"request:{request_id}", details)}

    def details(self, req: SubjectRequest, vault: Vault | None = None) -> dict[str, Any]:
        """The request's payload, opened (an `ErasedError` once its subject is erased); rows
        written before payloads were sealed hold it as it came."""
        sealed = req.details.get(SEALED)
        if not isinstance(sealed, str):
            return req.details
        opened: dict[str, Any] = (vault or self.vault).open_record(
            req.subject_id, f"request:{req.id}", sealed)
        return opened

    def _out(self, r: SubjectRequest, key: str | None = None) -> RequestOut:
        if key is None:
            subj = self.session.get(Subject, r.subject_id)
            key = subj.subject_key if subj else "?"
        now = utcnow()
        return RequestOut(
            id=r.id, brand_id=r.brand_id, subject=key, type=r.type, jurisdiction=r.jurisdiction,
            status=r.status, assignee=r.assignee, received_at=r.received_at, due_at=r.due_at,
            closed_at=r.closed_at, overdue=r.status not in CLOSED and r.due_at < now,
            deadline_source=self.policies.deadlines[r.jurisdiction].source, result=r.result)

    def _by_key(self, principal_id: int | None, key: str) -> SubjectRequest | None:
        return self.session.scalar(select(SubjectRequest).where(idempotency_match(
            SubjectRequest.opened_by_id, SubjectRequest.idempotency_key, principal_id, key)))

    def _replay(self, prior: SubjectRequest, body: RequestIn, key: str) -> RequestOut:
        """A retry under the same Idempotency-Key gets the first request back only when it
        asks for the same thing; anything else is a 409, never a silently lost request."""
        out = self._out(prior)
        if (out.brand_id, out.subject, out.type, self.details(prior)) != (
                body.brand_id, body.subject, body.type, body.details):
            raise ConflictError("this Idempotency-Key was already used for a "
                                "different request")
        return out

    def open(self, body: RequestIn, *, actor: str, principal_id: int | None = None,
             idempotency_key: str | None = None) -> tuple[RequestOut, bool]:
        """Open a request; returns (request, created). `principal_id` is who asks: its
        Idempotency-Keys are its own (another brand's key never collides), and it may not
        approve its own export or erasure."""
        if idempotency_key:
            prior = self._by_key(principal_id, idempotency_key)
            if prior is not None:
                return self._replay(prior, body, idempotency_key), False
        subj = ConsentService(self.session).subject(body.brand_id, body.subject)
        deadline = self.policies.deadlines[subj.jurisdiction]
        days = self._days(body.type, subj.jurisdiction)
        now, request_id = utcnow(), str(uuid.uuid4())
        req = SubjectRequest(id=request_id, brand_id=body.brand_id, subject_id=subj.id,
                             type=body.type, jurisdiction=subj.jurisdiction, status="open",
                             received_at=now, due_at=now + timedelta(days=days),
                             details=self._seal(subj.id, request_id, body.details), result={},
                             opened_by_id=principal_id,
                             idempotency_key=idempotency_key)
        try:
            with self.session.begin_nested():  # a concurrent twin under the same key
                self.session.add(req)
        except IntegrityError:
            prior = self._by_key(principal_id, idempotency_key) if idempotency_key else None
            if prior is None or idempotency_key is None:
                raise
            return self._replay(prior, body, idempotency_key), False
        self.audit.record("request.opened", actor=actor, brand_id=body.brand_id, data={
            "request_id": req.id, "subject": body.subject, "type": body.type,
            "due_at": req.due_at.isoformat(), "deadline_rule": deadline.source})
        return self._out(req, body.subject), True

    def _days(self, kind: str, jurisdiction: str) -> int:
        """The deadline: the request type's own for this law (policies/requests.yaml
        `types`), else the jurisdiction's."""
        t = next((t for t in self.policies.request_types if t.type == kind), None)
        if t is not None and jurisdiction in t.days:
            return t.days[jurisdiction]
        return self.policies.deadlines[jurisdiction].days

    def refusing(self, kind: str) -> tuple[str, ...]:
        """The purposes a restriction, objection or opt-out refuses (policies/requests.yaml)."""
        t = next((t for t in self.policies.request_types if t.type == kind), None)
        if t is None:
            raise InputError(f"no policy for request type '{kind}' in policies/requests.yaml",
                             column="type")
        return t.refuse

    def gpc_opt_out(self, brand_id: str, subject: str, *, actor: str,
                    principal_id: int | None) -> list[str]:
        """The Global Privacy Control signal (`Sec-GPC: 1`) is a valid opt-out of sale and
        sharing (11 CCR 7025; Cal. Civ. Code 1798.135): refuse those purposes now, without
        a request to wait on. Idempotent: one refusal per purpose and day."""
        purposes = self.refusing("opt_out_sale")
        day = utcnow().date().isoformat()
        consent = ConsentService(self.session)
        for purpose in purposes:
            consent.record(ConsentIn.model_validate({
                "brand_id": brand_id, "subject": subject, "purpose": purpose,
                "action": "refuse", "notice_version": "gpc", "channel": "gpc"}),
                actor=actor, policies=self.policies,
                idempotency_key=f"gpc:{brand_id}:{subject}:{purpose}:{day}",
                principal_id=principal_id)
        self.audit.record("consent.gpc", actor=actor, brand_id=brand_id, data={
            "subject": subject, "refused": list(purposes)})
        return list(purposes)

    def get(self, request_id: str) -> SubjectRequest:
        req = self.session.get(SubjectRequest, request_id)
        if req is None:
            raise NotFoundError(f"request {request_id} not found")
        return req

    def out(self, req: SubjectRequest) -> RequestOut:
        return self._out(req)

    def list_requests(self, *, brand_id: str | None, status: str | None,
                      overdue: bool | None, limit: int) -> list[RequestOut]:
        q = select(SubjectRequest).order_by(SubjectRequest.due_at).limit(limit)
        if brand_id:
            q = q.where(SubjectRequest.brand_id == brand_id)
        if status:
            q = q.where(SubjectRequest.status == status)
        if overdue is not None:
            cond = (SubjectRequest.due_at < utcnow()) & SubjectRequest.status.not_in(CLOSED)
            q = q.where(cond if overdue else ~cond)
        return [self._out(r) for r in self.session.scalars(q)]

    def update(self, req: SubjectRequest, patch: RequestPatch, *, actor: str) -> RequestOut:
        if req.status in CLOSED:
            raise ConflictError(f"request {req.id} is already {req.status}")
        if patch.assignee is not None:
            req.assignee = patch.assignee
        if patch.status is not None:
            req.status = patch.status
            if patch.status == "rejected":
                req.closed_at = utcnow()
                req.result = {"reason": patch.reason or ""}
        self.audit.record("request.updated", actor=actor, brand_id=req.brand_id, data={
            "request_id": req.id, "status": req.status, "assignee": req.assignee})
        return self._out(req)

    def approve(self, req: SubjectRequest, *, actor: str, principal_id: int) -> RequestOut:
        """The second person: an export or erasure runs only after a principal other than
        the one who asked for it and the one who runs it confirms it (a second token of the
        same person is the same person); both steps are audited."""
        if req.status in CLOSED:
            raise ConflictError(f"request {req.id} is already {req.status}")
        if req.type in NEEDS_SECOND_PERSON and req.opened_by_id == principal_id:
            raise ApprovalError("the approver must be a different person than the one who "
                                "opened the request")
        req.approved_by_id = principal_id
        req.result = {**req.result, "approved_by": actor, "approved_at": utcnow().isoformat()}
        self.audit.record("request.approved", actor=actor, brand_id=req.brand_id,
                          data={"request_id": req.id, "type": req.type,
                                "principal_id": principal_id})
        return self._out(req)

    def execute(self, req: SubjectRequest, *, actor: str, principal_id: int, vault: Vault
                ) -> tuple[RequestOut, dict[str, Any] | None]:
        """Run the request. Returns the export for access/portability: it goes to the
        requester and is never stored (only its digest is)."""
        if req.status in CLOSED:
            return self._out(req), None
        if req.type in NEEDS_SECOND_PERSON:
            if req.approved_by_id is None:
                raise ApprovalError(f"a {req.type} request needs approval by a second person "
                                    "first (POST /v1/requests/{id}/approve)")
            if req.approved_by_id == principal_id:
                raise ApprovalError("the approver and the executor must be different people")
        subj = self.session.get(Subject, req.subject_id)
        assert subj is not None
        consent = ConsentService(self.session)
        result: dict[str, Any] = {}
        export: dict[str, Any] | None = None

        def consent_event(purpose: str, action: str) -> None:
            consent.record(ConsentIn.model_validate({
                "brand_id": req.brand_id, "subject": subj.subject_key, "purpose": purpose,
                "action": action, "notice_version": "dsr", "channel": "request"}),
                           actor=actor, policies=self.policies,
                           idempotency_key=f"dsr:{req.id}:{purpose}:{action}",
                           principal_id=principal_id)

        if req.type in ("access", "portability"):
            try:
                pii = vault.get(subj.id)
            except NotFoundError:
                pii = {}
            events = consent.list_events(brand_id=req.brand_id, subject=subj.subject_key,
                                         purpose=None, after_id=0, limit=100_000)
            export = {"format": "comity-export/1", "subject": subj.subject_key,
                      "brand_id": req.brand_id, "personal_data": pii,
                      "consent_events": [e.model_dump(mode="json") for e in events],
                      "consent_state": consent.states(req.brand_id, subj.subject_key)}
            blob = json.dumps(export, sort_keys=True, ensure_ascii=False).encode()
            result = {"export_sha256": hashlib.sha256(blob).hexdigest(),
                      "fields": sorted(pii), "consent_events": len(events)}
        elif req.type == "correction":
            fields = self.details(req, vault).get("fields")
            if not isinstance(fields, dict) or not all(isinstance(v, str) for v in
                                                       fields.values()):
                raise InputError("correction needs details.fields: {name: value}",
                                 column="details.fields")
            vault.put(subj.id, fields)
            result = {"corrected_fields": sorted(fields)}
        elif req.type == "deletion":
            shredded = vault.shred([subj.id])
            for purpose, state in consent.states(req.brand_id, subj.subject_key).items():
                if state in ("granted", "separate"):
                    consent_event(purpose, "withdraw")
            subj.erased_at = utcnow()
            result = {"keys_destroyed": shredded, "erased": True}
        elif req.type == "withdraw_consent":
            asked = self.details(req, vault).get("purpose")
            purposes = [asked] if asked else [
                p for p, s in consent.states(req.brand_id, subj.subject_key).items()
                if s in ("granted", "separate")]
            for p in purposes:
                consent_event(p, "withdraw")
            result = {"withdrawn": purposes}
        elif req.type in ("restriction", "objection", "opt_out_sale"):
            refused = self.refusing(req.type)
            for p in refused:
                consent_event(p, "refuse")
            result = {"refused": list(refused)}
        elif req.type == "explanation":  # PIPL Art. 24(3); GDPR Art. 22(3)
            factors = self.details(req, vault).get("factors")
            if not isinstance(factors, list) or not factors or not all(
                    isinstance(f, str) for f in factors):
                raise InputError("explanation needs details.factors: the words of "
                                 "comity score --explain for this subject",
                                 column="details.factors")
            result = {"explained": True, "factors_given": len(factors)}
        elif req.type in ("refuse_personalization", "refuse_automated_decision"):
            consent_event("personalized_recommendation", "refuse")
            result = {"refused": ["personalized_recommendation"]}
        req.status, req.closed_at = "completed", utcnow()
        req.result = {**req.result, **result}
        self.audit.record("request.completed", actor=actor, brand_id=req.brand_id, data={
            "request_id": req.id, "type": req.type, "subject": subj.subject_key,
            "on_time": req.closed_at <= req.due_at,
            "result_keys": sorted(result)})
        return self._out(req, subj.subject_key), export
