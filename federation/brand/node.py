"""Who this brand node is and what it holds for a run: its brand id (the SuperNode's node
config, or its partition in simulation) and its rows for the run, gated on the consent
snapshot at the run's as-of time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from flwr.app import Context

from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from federation.data.catalogue import CATALOGUE_FILE, load_catalogue
from federation.data.silo import load_silo
from federation.gate.prepare import Prepared, prepare_churn, prepare_recommend
from federation.settings import RunSettings


def brand_of(context: Context, brands: Sequence[str]) -> str:
    """Deployment: the SuperNode's `brand-id` node config. Simulation: partition index."""
    if "brand-id" in context.node_config:
        return str(context.node_config["brand-id"])
    return brands[int(context.node_config["partition-id"])]


def prepare_for_run(settings: RunSettings, brand_id: str) -> Prepared:
    """A brand's rows for one run, gated on the consent snapshot at the run's as-of time:
    what the ClientApp trains on, and what a later privacy audit must rebuild exactly."""
    policies = load_policies()
    db = Database(settings.database_url, migrate=False)
    try:
        with db.reading() as session:
            snapshot = ConsentService(session).snapshot(brand_id, settings.purpose,
                                                        settings.as_of)
    finally:
        db.dispose()
    silo = load_silo(Path(settings.silo_root) / brand_id, policies)
    if settings.model == "recommend":
        items = load_catalogue(Path(settings.silo_root) / CATALOGUE_FILE)
        if len(items) != settings.items:
            raise InputError(f"brand '{brand_id}' has a catalogue of {len(items)} items, the "
                             f"run expects {settings.items}",
                             file=str(Path(settings.silo_root) / CATALOGUE_FILE))
        return prepare_recommend(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                                 purpose=settings.purpose, items=items, seed=settings.seed)
    return prepare_churn(silo, snapshot=snapshot, engine=PolicyEngine(policies),
                         purpose=settings.purpose, cutoff=date.fromisoformat(settings.cutoff),
                         horizon_days=settings.horizon_days, seed=settings.seed)
