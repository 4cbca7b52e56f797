"""/v1/models: the model registry. A brand fetches the newest version it took part in (the
weights and the SHA-256 lineage recorded for them) and reports its serving runs as counts."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from api.deps import DatabaseDep, PrincipalDep, ReadSessionDep
from federation.coordinator.lineage.schemas import ModelReleaseOut, ModelVersionOut, ServingIn
from federation.coordinator.lineage.service import LineageService
from federation.release import weights_blob

router = APIRouter(prefix="/v1/models", tags=["models"])
ModelName = Annotated[Literal["churn", "recommend"], Path()]


@router.get("", response_model=list[ModelVersionOut])
def list_versions(session: ReadSessionDep, principal: PrincipalDep) -> list[ModelVersionOut]:
    principal.require("dpo", "admin")
    return [ModelVersionOut(model=v.model, version=v.version, run_id=v.run_id,
                            weights_sha256=v.weights_sha256, created_at=v.created_at)
            for v in LineageService(session).versions()]


@router.get("/{model}/latest", response_model=ModelReleaseOut)
def latest(model: ModelName, session: ReadSessionDep, principal: PrincipalDep
           ) -> ModelReleaseOut:
    """A brand gets only a version from a run it took part in (404 otherwise)."""
    principal.require("brand", "dpo", "admin")
    release = LineageService(session).latest_release(model, brand_id=principal.brand_id)
    return ModelReleaseOut(model=release.model, version=release.version,
                           weights_sha256=release.weights_sha256,
                           weights=base64.b64encode(weights_blob(release.weights)).decode(),
                           config=release.config, final=release.final)


@router.post("/{model}/versions/{version}/servings", status_code=204)
def report_serving(model: ModelName, version: Annotated[int, Path(ge=1, le=2**31)],
                   body: ServingIn, db: DatabaseDep, principal: PrincipalDep) -> None:
    principal.require("brand")
    assert principal.brand_id is not None
    with db.unit_of_work() as session:
        LineageService(session).record_serving(model, version, principal.brand_id,
                                               principal.actor,
                                               body.model_dump(exclude_none=True))
