"""POST /v1/pii/scan: offsets of PII in the caller's own texts; nothing is stored."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PrincipalDep
from privacy.detection.analyzer import PiiScanner
from privacy.detection.schemas import EntityOut, ScanRequest, ScanResponse, ScanResult

router = APIRouter(prefix="/v1/pii", tags=["pii"])


@router.post("/scan", response_model=ScanResponse)
def scan(body: ScanRequest, request: Request, principal: PrincipalDep) -> ScanResponse:
    base: PiiScanner = request.app.state.pii_scanner
    scanner = base if body.threshold == base.threshold else PiiScanner(base.finders,
                                                                       body.threshold)
    found = scanner.scan_many([i.text for i in body.items], body.entities)
    return ScanResponse(results=[
        ScanResult(id=item.id, entities=[EntityOut(**f.as_dict()) for f in fs])  # type: ignore[arg-type]
        for item, fs in zip(body.items, found, strict=True)])
