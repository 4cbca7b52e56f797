"""FastAPI application factory. Routers stay thin; services do the work."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import jsonlog
from api.composition import Services
from api.deps import rate_key
from api.errors import validation_error
from api.limits import Limits, LimitsMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.routers import (
    aggregates,
    audit,
    brands,
    consents,
    dpo,
    governance,
    gpc,
    metrics,
    models,
    operations,
    overlaps,
    pii,
    reports,
    requests,
    retention,
)
from compliance.database import Database
from compliance.errors import ComityError


def create_app(db: Database | None = None, limits: Limits | None = None) -> FastAPI:
    app = FastAPI(title="comity", version="0.1.0",
                  description="Privacy-preserving data collaboration and compliance API.")
    app.add_middleware(LimitsMiddleware, limits=limits or Limits.from_env(), rate_key=rate_key)
    services = Services(db)
    app.state.db = services.db
    app.state.policies = services.policies
    app.state.pii_scanner = services.scanner
    app.state.aggregates = services.aggregates
    app.state.overlaps = services.overlaps
    app.state.metrics = Metrics(services.db)  # outermost: 413s and 429s are counted too
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if jsonlog.enabled():
        jsonlog.configure()
    for r in (brands.router, consents.router, models.router, requests.router, audit.router,
              retention.router, pii.router, aggregates.router, reports.router, dpo.router,
              metrics.router, operations.router):
        app.include_router(r)
    app.include_router(governance.router)  # issue 22
    app.include_router(gpc.router)  # issue 22: Sec-GPC
    app.include_router(overlaps.router)  # issue 26

    @app.exception_handler(ComityError)
    async def _comity_error(_: Request, exc: ComityError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code,
                            content={"detail": exc.message, **exc.details})

    app.add_exception_handler(RequestValidationError, validation_error)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        with app.state.db.reading() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app
