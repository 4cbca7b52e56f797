"""/metrics: the Prometheus text exposition of this app's registry (`api.metrics`). Outside
the OpenAPI contract and unauthenticated, as scrapers expect: no series or label holds
personal data. Bind the API to an internal interface or filter /metrics at the proxy where
budget and brand names should not be public."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["ops"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
