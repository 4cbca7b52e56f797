"""Registering the alliance's brands, each under one jurisdiction; audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from compliance.audit.service import AuditLog
from compliance.subjects.models import Brand


class SubjectService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def register_brand(self, brand_id: str, name: str, jurisdiction: str, actor: str) -> Brand:
        brand = self.session.get(Brand, brand_id)
        if brand is None:
            brand = Brand(id=brand_id, name=name, jurisdiction=jurisdiction)
            self.session.add(brand)
            self.session.flush()
            self.audit.record("brand.registered", actor=actor, brand_id=brand_id,
                              data={"name": name, "jurisdiction": jurisdiction})
        return brand
