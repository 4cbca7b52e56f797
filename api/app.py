"""FastAPI application factory. Routers stay thin; services do the work."""

from __future__ import annotations

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.limits import Limits, LimitsMiddleware
from api.routers import aggregates, audit, consents, dpo, pii, reports, requests, retention
from compliance.database import Database
from compliance.errors import ComityError
from compliance.policy.loader import PolicySet, load_policies
from privacy.aggregates.federated import FederatedPlan
from privacy.aggregates.service import AggregateService
from privacy.detection.analyzer import PiiScanner


def simulated_secure_sum(plan: FederatedPlan) -> tuple[np.ndarray, int]:
    """Federated aggregates through Flower's simulation runtime, one SuperNode per silo.
    Imported on first use: Flower, Ray and torch stay out of the API's start-up."""
    from federation.aggregate_round import simulate_secure_sum

    return simulate_secure_sum(plan)


def aggregate_service(db: Database, policies: PolicySet) -> AggregateService:
    return AggregateService(db, policies, secure_sum=simulated_secure_sum)


def create_app(db: Database | None = None, limits: Limits | None = None) -> FastAPI:
    app = FastAPI(title="comity", version="0.1.0",
                  description="Privacy-preserving data collaboration and compliance API.")
    app.add_middleware(LimitsMiddleware, limits=limits or Limits.from_env())
    app.state.db = db or Database()
    app.state.policies = load_policies()
    app.state.pii_scanner = PiiScanner()
    app.state.aggregates = aggregate_service(app.state.db, app.state.policies)
    for r in (consents.router, requests.router, audit.router, retention.router, pii.router,
              aggregates.router, reports.router, dpo.router):
        app.include_router(r)

    @app.exception_handler(ComityError)
    async def _comity_error(_: Request, exc: ComityError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code,
                            content={"detail": exc.message, **exc.details})

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        with app.state.db.reading() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app
