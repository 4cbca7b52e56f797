"""Who this brand node is and what it holds: its config file (`brand.toml`, see
`federation.brand.config`), its silo, its own pseudonymization key, its synced consent
records, the audit log heads it witnessed, and its rows for a run, gated on the consent
snapshot at the run's as-of time.

A SuperNode names its config in its node config (`brand-config`, set by `comity node start`).
In Flower's simulation runtime a virtual node has only a partition id, so the operator's
process names each brand's config in one environment variable (`COMITY_SIMULATION_NODES`, a
JSON object brand id -> config path) that the simulation's workers inherit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from flwr.app import Context

from compliance.consent.state import SubjectConsent
from compliance.errors import ComityError, InputError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.policy.schemas import PolicySet
from federation.brand.api_client import CoordinatorClient
from federation.brand.config import BRAND_CONFIG_KEY, BrandConfig, load_brand_config
from federation.brand.consent_store import ConsentStore
from federation.brand.sync import SyncReport, sync_consents
from federation.brand.witness import WitnessAlarm, WitnessReport, WitnessStore, witness_log
from federation.data.catalogue import load_catalogue
from federation.data.silo import SiloData, load_silo
from federation.settings import RunSettings
from privacy.pseudonym import Pseudonymizer

if TYPE_CHECKING:
    from federation.gate.prepare import Prepared

SIMULATION_NODES_ENV = "COMITY_SIMULATION_NODES"


class BrandNode:
    def __init__(self, config: BrandConfig) -> None:
        self.config = config

    @property
    def brand_id(self) -> str:
        return self.config.brand_id

    @cached_property
    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer.from_key_dir(self.config.keys.dir)

    @cached_property
    def store(self) -> ConsentStore:
        return ConsentStore(self.config.state.dir)

    def client(self) -> CoordinatorClient:
        return CoordinatorClient.for_node(self.config)

    def sync(self) -> SyncReport:
        with self.client() as client:
            return sync_consents(client, self.store, self.brand_id)

    @cached_property
    def witnesses(self) -> WitnessStore:
        """The coordinator's signed audit heads this brand has seen, and its alarms."""
        return WitnessStore(self.config.state.dir)

    def witness(self, *, strict: bool = True) -> WitnessReport:
        """Check the coordinator's newest signed audit head against every head this brand saw
        (`federation.brand.witness`). Not strict (beside another call to the coordinator): a
        coordinator that cannot answer is noted in the report, not raised. An alarm (a
        truncated or forked log) is always raised."""
        try:
            with self.client() as client:
                return witness_log(client, self.witnesses,
                                   self.config.coordinator.audit_public_key)
        except WitnessAlarm:
            raise
        except ComityError as exc:
            if strict:
                raise
            return WitnessReport("skipped", problem=exc.message)

    def snapshot(self, purpose: str, as_of: datetime, *, sync: bool = True
                 ) -> dict[str, SubjectConsent]:
        """This brand's consent snapshot, from its own synced copy (brought up to date first
        unless `sync` is False)."""
        if sync:
            self.sync()
        return self.store.snapshot(purpose, as_of)

    def silo(self, policies: PolicySet) -> SiloData:
        data = load_silo(self.config.silo.dir, policies)
        if data.column_map.brand_id != self.brand_id:
            raise InputError(f"the silo's column map is for brand '{data.column_map.brand_id}', "
                             f"this node is '{self.brand_id}'",
                             file=str(self.config.silo.dir), column="brand_id")
        return data

    def catalogue(self) -> dict[str, int]:
        return load_catalogue(self.config.catalogue)


@lru_cache(maxsize=64)
def load_node(path: str) -> BrandNode:
    return BrandNode(load_brand_config(Path(path)))


def simulation_nodes() -> dict[str, str]:
    raw = os.environ.get(SIMULATION_NODES_ENV, "")
    try:
        nodes = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise InputError(f"{SIMULATION_NODES_ENV} is not a JSON object") from None
    if not isinstance(nodes, dict):
        raise InputError(f"{SIMULATION_NODES_ENV} is not a JSON object")
    return {str(k): str(v) for k, v in nodes.items()}


def set_simulation_nodes(configs: Mapping[str, Path]) -> None:
    """Name each brand's config for the simulation's workers (they inherit the variable)."""
    os.environ[SIMULATION_NODES_ENV] = json.dumps({b: str(p.resolve())
                                                   for b, p in configs.items()})


def node_of(context: Context, brands: Sequence[str]) -> BrandNode:
    """Deployment: the SuperNode's `brand-config` node config. Simulation: the partition's
    brand, whose config the operator named in `COMITY_SIMULATION_NODES`."""
    if BRAND_CONFIG_KEY in context.node_config:
        return load_node(str(context.node_config[BRAND_CONFIG_KEY]))
    brand = brands[int(context.node_config["partition-id"])]
    path = simulation_nodes().get(brand)
    if path is None:
        raise InputError(f"no node config for brand '{brand}' in this simulation "
                         f"({SIMULATION_NODES_ENV})")
    return load_node(path)


def prepare_for_run(settings: RunSettings, node: BrandNode) -> Prepared:
    """A brand's rows for one run, gated on the consent snapshot at the run's as-of time:
    what the ClientApp trains on, and what a later privacy audit must rebuild exactly.
    The gate's data classes come with torch: imported here, not for every ClientApp stage."""
    from federation.gate.prepare import prepare_churn, prepare_recommend

    if node.brand_id not in settings.brands:
        raise InputError(f"brand '{node.brand_id}' is not one of this run's brands")
    policies = load_policies()
    snapshot = node.snapshot(settings.purpose, settings.as_of)
    silo = node.silo(policies)
    engine = PolicyEngine(policies)
    if settings.model == "recommend":
        items = node.catalogue()
        if len(items) != settings.items:
            raise InputError(f"brand '{node.brand_id}' has a catalogue of {len(items)} items, "
                             f"the run expects {settings.items}", file=str(node.config.catalogue))
        return prepare_recommend(silo, snapshot=snapshot, engine=engine,
                                 purpose=settings.purpose, items=items, seed=settings.seed,
                                 pseudonym=node.pseudonymizer)
    return prepare_churn(silo, snapshot=snapshot, engine=engine, purpose=settings.purpose,
                         cutoff=date.fromisoformat(settings.cutoff),
                         horizon_days=settings.horizon_days, seed=settings.seed,
                         pseudonym=node.pseudonymizer, ltv_feature=settings.ltv_feature)
