"""/v1/brands: the alliance's brands (admin registers them) and each brand's pseudonymous
subjects, which its node syncs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MAX_DB_INT, DatabaseDep, PoliciesDep, PrincipalDep, ReadSessionDep, brand_scope
from compliance.subjects.schemas import BrandIn, BrandOut, SubjectOut
from compliance.subjects.service import SubjectService

router = APIRouter(prefix="/v1/brands", tags=["brands"])


@router.post("", response_model=BrandOut, status_code=201)
def add_brand(body: BrandIn, db: DatabaseDep, principal: PrincipalDep,
              policies: PoliciesDep) -> BrandOut:
    """Register a brand (admin). 409 if the id is taken; audited as `brand.registered`."""
    principal.require("admin")
    with db.unit_of_work() as session:
        return SubjectService(session).add_brand(body, policies=policies,
                                                 actor=principal.actor)


@router.get("", response_model=list[BrandOut])
def list_brands(session: ReadSessionDep, principal: PrincipalDep) -> list[BrandOut]:
    principal.require("admin", "dpo")
    return SubjectService(session).brands()


@router.get("/{brand_id}/subjects", response_model=list[SubjectOut])
def list_subjects(brand_id: str, session: ReadSessionDep, principal: PrincipalDep,
                  after_id: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> list[SubjectOut]:
    """A brand's subjects (pseudonyms, minor and guardian flags), for its own node only."""
    principal.require("brand", "dpo", "admin")
    brand_scope(principal, brand_id)
    return SubjectService(session).subjects(brand_id, after_id=after_id, limit=limit)
