"""The alliance's brands, each under one jurisdiction, and their subjects as a brand node
syncs them (pseudonyms and derived flags). Registration is audited."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.errors import ConflictError, InputError, NotFoundError
from compliance.policy.schemas import PolicySet
from compliance.subjects.models import Brand, Subject
from compliance.subjects.schemas import BrandIn, BrandOut, SubjectOut


class SubjectService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def add_brand(self, body: BrandIn, *, policies: PolicySet, actor: str) -> BrandOut:
        """Register a brand; a second registration of the same id is a conflict, and an
        unknown jurisdiction is refused, both before anything is written."""
        if body.jurisdiction not in policies.jurisdictions:
            raise InputError("unknown jurisdiction (known: "
                             f"{', '.join(sorted(policies.jurisdictions))})",
                             column="jurisdiction")
        if self.session.get(Brand, body.id) is not None:
            raise ConflictError(f"brand '{body.id}' is already registered")
        brand = self.register_brand(body.id, body.name, body.jurisdiction, actor=actor)
        return self._out(brand, 0)

    def register_brand(self, brand_id: str, name: str, jurisdiction: str, actor: str) -> Brand:
        """Register a brand, or return it when it is already registered as given (the demo
        and tests re-run on one database); registered otherwise is a conflict."""
        brand = self.session.get(Brand, brand_id)
        if brand is None:
            brand = Brand(id=brand_id, name=name, jurisdiction=jurisdiction)
            self.session.add(brand)
            self.session.flush()
            self.audit.record("brand.registered", actor=actor, brand_id=brand_id,
                              data={"name": name, "jurisdiction": jurisdiction})
        elif (brand.name, brand.jurisdiction) != (name, jurisdiction):
            raise ConflictError(f"brand '{brand_id}' is already registered with another name "
                                "or jurisdiction")
        return brand

    def brands(self) -> list[BrandOut]:
        counts = dict(self.session.execute(
            select(Subject.brand_id, func.count()).group_by(Subject.brand_id)).all())
        return [self._out(b, int(counts.get(b.id, 0)))
                for b in self.session.scalars(select(Brand).order_by(Brand.id))]

    def brand(self, brand_id: str) -> Brand:
        brand = self.session.get(Brand, brand_id)
        if brand is None:
            raise NotFoundError("brand is not registered")
        return brand

    def subjects(self, brand_id: str, *, after_id: int, limit: int) -> list[SubjectOut]:
        self.brand(brand_id)
        rows = self.session.execute(
            select(Subject.id, Subject.subject_key, Subject.is_minor, Subject.guardian_consent)
            .where(Subject.brand_id == brand_id, Subject.id > after_id)
            .order_by(Subject.id).limit(limit)).all()
        return [SubjectOut(id=i, subject=k, is_minor=m, guardian_consent=g)
                for i, k, m, g in rows]

    @staticmethod
    def _out(brand: Brand, subjects: int) -> BrandOut:
        return BrandOut(id=brand.id, name=brand.name, jurisdiction=brand.jurisdiction,
                        created_at=brand.created_at, subjects=subjects)
