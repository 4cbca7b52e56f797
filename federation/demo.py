"""`comity demo`: the whole path once, on the embedded default.

Brands' silos are generated into a private temporary directory (raw PII lives only
there and is deleted at the end unless kept); only pseudonyms, flags and consent
events reach the compliance database; the report carries counts and hashes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from compliance.audit.service import AuditLog
from compliance.consent.service import ConsentService
from compliance.database import Database, utcnow
from compliance.errors import ConflictError
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.report.builder import build_report
from compliance.report.render import write_report
from compliance.requests.schemas import RequestIn, RequestType
from compliance.requests.service import NEEDS_SECOND_PERSON, RequestService
from compliance.retention.service import RetentionService
from compliance.subjects.models import Brand
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from federation.brand.consent_import import import_consents
from federation.brand.node import BrandNode, load_node, set_simulation_nodes
from federation.brand.provision import init_node
from federation.coordinator.coordinator import RunOutcome
from federation.data.catalogue import CATALOGUE_FILE, load_catalogue, write_catalogue
from federation.data.features import CHURN_STATUS, RFM_TIERS
from federation.data.ltv import LTV_BANDS
from federation.data.silo import write_silo
from federation.data.synthetic import (
    AS_OF,
    DEFAULT_CUTOFF,
    DEFAULT_HORIZON_DAYS,
    BrandSilo,
    alliance_specs,
    catalogue,
    generate_alliance,
)
from federation.demo_operations import demo_operations
from federation.gate.prepare import prepare_segments
from federation.governance_demo import demo_governance
from federation.privacy_audit import audit_run
from federation.runtime.simulation import simulate, simulate_secure_sum
from federation.settings import RunSettings
from privacy.aggregates.errors import BudgetExhausted
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService
from privacy.keys import audit_signing_key
from privacy.vault.service import Vault

StepFn = Callable[[str], None]
ProgressFn = Callable[[str, int, int], None]


def labelled(progress: ProgressFn | None, model: str) -> ProgressFn | None:
    """`progress` with the model named in its kind ("churn round"): the demo trains two
    models, and the recommender's one statistics round must not overwrite churn's 8/8."""
    if progress is None:
        return None
    return lambda kind, done, total: progress(f"{model} {kind}", done, total)


DEMO_SERVICE = "service:insights"
DEMO_EPSILON = 3.0  # DP-SGD target per brand (customer-level), delta 1e-5
SEGMENTS_FILE = "segments.parquet"
SEGMENTS_DATASET = "alliance_segments"
NOTICE_VERSION = "2026-01"
CONSENT_MAP = """\
# The demo CRM's consent export, column by column (federation.brand.consent_import).
subject: customer_id
purpose: purpose
action: action
occurred_at: occurred_at
notice_version: notice_version
channel: channel
separate: separate
by_guardian: by_guardian
birth_date: birth_date
"""


@dataclass(frozen=True)
class DemoResult:
    report: dict
    paths: dict[str, Path]
    outcome: RunOutcome
    recommender: RunOutcome
    aggregates: list[dict[str, Any]]


def demo_aggregates(db: Database, alliance: Alliance) -> list[dict[str, Any]]:
    """Each brand derives its customer segments behind the gate (purpose analytics_aggregate)
    into its own node directory; an internal service then asks DP questions across the brands
    through SecAgg+, within a budget; the last question is over budget on purpose and is
    refused."""
    policies = load_policies()
    engine = PolicyEngine(policies)
    purpose = policies.aggregates.purpose
    settings = alliance.settings
    silos: dict[str, Path] = {}
    for brand, node in alliance.nodes().items():
        segments = prepare_segments(
            node.silo(policies), snapshot=node.snapshot(purpose, settings.as_of),
            engine=engine, purpose=purpose, cutoff=date.fromisoformat(settings.cutoff),
            horizon_days=settings.horizon_days, seed=settings.seed,
            pseudonym=node.pseudonymizer)
        path = node.config.aggregates[SEGMENTS_DATASET]
        segments.to_parquet(path, index=False)
        silos[brand] = path
    svc = AggregateService(db, policies, secure_sum=simulate_secure_sum)
    svc.register(SEGMENTS_DATASET, None, "customer_id", actor="admin", silos=silos,
                 bounds={"spend": (0.0, 5000.0), "orders": (0, 200)},
                 categories={"rfm_tier": list(RFM_TIERS), "churn": list(CHURN_STATUS),
                             "ltv_band": list(LTV_BANDS)},
                 data_categories={"spend": "purchase_history", "orders": "purchase_history",
                                  "rfm_tier": "behavioral_features",
                                  "churn": "behavioral_features",
                                  "ltv_band": "behavioral_features"})
    svc.set_budget(DEMO_SERVICE, SEGMENTS_DATASET, 2.0, actor="dpo", period="month")
    asked = [
        {"measure": "mean", "column": "spend", "group_by": ["rfm_tier"], "epsilon": 1.0},
        {"measure": "histogram", "column": "churn", "epsilon": 0.5},
        {"measure": "count", "group_by": ["ltv_band"], "epsilon": 0.5},
        {"measure": "count", "group_by": ["churn"], "epsilon": 1.0},
    ]
    out: list[dict[str, Any]] = []
    for body in asked:
        query = AggregateQuery.model_validate({"dataset": SEGMENTS_DATASET,
                                               "federated": True, **body})
        try:
            ans = svc.query(DEMO_SERVICE, query, actor=DEMO_SERVICE)
            out.append({"query": body, "answer": ans.model_dump()})
        except BudgetExhausted as exc:
            out.append({"query": body, "refused": exc.message, **exc.details})
    return out


DEMO_DPO = "dpo@demo"


def node_principal(brand: str) -> str:
    """The principal a brand's node token belongs to (a service, not a person)."""
    return f"{brand}-node"


def demo_requests(db: Database, brands: tuple[str, ...], purpose: str) -> dict[str, int]:
    """Data-subject requests as brands receive them: an access export and a deletion (each
    approved by the DPO, run by the brand), a withdrawal of training consent after the run
    (which flags the model for review), and one request left open within its deadline."""
    policies = load_policies()
    kinds: tuple[RequestType, ...] = ("access", "withdraw_consent", "deletion",
                                      "refuse_personalization")
    done: dict[str, int] = {"completed": 0, "open": 0}
    with db.unit_of_work() as session:
        svc = RequestService(session, policies)
        consent = ConsentService(session)
        people = TokenService(session)
        dpo = people.principal(DEMO_DPO, kind="person", actor="admin").id
        for i, brand in enumerate(brands):
            node = people.principal(node_principal(brand), kind="service", actor="admin").id
            granted = sorted(k for k, c in consent.snapshot(brand, purpose, utcnow()).items()
                             if c.state.value in ("granted", "separate"))
            for j, kind in enumerate(kinds[:2] if i else kinds):
                body = RequestIn(brand_id=brand, subject=granted[j], type=kind,
                                 details={"purpose": purpose} if kind == "withdraw_consent"
                                 else {})
                out, _ = svc.open(body, actor=f"brand:{brand}", principal_id=node)
                if i == len(brands) - 1 and j == 1:
                    done["open"] += 1
                    continue
                req = svc.get(out.id)
                if kind in NEEDS_SECOND_PERSON:
                    svc.approve(req, actor="dpo", principal_id=dpo)
                svc.execute(req, actor=f"brand:{brand}", principal_id=node,
                            vault=Vault(session))
                done["completed"] += 1
    return done


@dataclass(frozen=True)
class Alliance:
    """The demo's alliance: the run's settings and each brand's node config."""
    settings: RunSettings
    configs: dict[str, Path]
    root: Path

    def nodes(self) -> dict[str, BrandNode]:
        return {b: load_node(str(p)) for b, p in self.configs.items()}

    def silo(self, brand: str) -> Path:
        return self.configs[brand].parent / "silo"

    @property
    def catalogue(self) -> Path:
        return self.root / CATALOGUE_FILE


def crm_export(silo: BrandSilo) -> pd.DataFrame:
    """What a brand's CRM would export of its consent records: one row per event, with the
    customer's birth date (for minors) and the notice the customer saw."""
    born = silo.customers.set_index("customer_id")["birth_date"]
    out = silo.consents.assign(birth_date=silo.consents["customer_id"].map(born),
                               notice_version=NOTICE_VERSION, channel="app")
    return out.assign(occurred_at=pd.to_datetime(out["occurred_at"], utc=True)
                      .map(lambda t: t.isoformat()))


def prepare_alliance(db: Database, root: Path, *, api_url: str, seed: int = 7,
                     scale: float = 1.0, rounds: int = 8, dp_epsilon: float = 0.0,
                     n_brands: int = 3, on_generated: Callable[[], None] | None = None
                     ) -> Alliance:
    """The alliance set up the way an operator and its brands would: each brand registered
    and given a token by the coordinator; each brand's node directory laid out with its own
    keys, its synthetic silo and its CRM's consent export; each brand importing its consents
    through the API at `api_url` and syncing them back. Returns the run's settings."""
    policies = load_policies()
    silos = generate_alliance(seed=seed, brands=alliance_specs(n_brands), scale=scale)
    root.mkdir(parents=True, exist_ok=True)
    published = write_catalogue(catalogue(tuple(s.spec for s in silos)), root)
    configs: dict[str, Path] = {}
    for s in silos:
        brand = s.spec.brand_id
        with db.unit_of_work() as session:
            SubjectService(session).register_brand(brand, s.spec.name, s.spec.jurisdiction,
                                                   actor="admin")
            token = TokenService(session).create(f"brand:{brand}",
                                                 principal=node_principal(brand),
                                                 label=f"{brand} node", actor="admin")
        configs[brand] = init_node(root / brand, brand_id=brand,
                                   jurisdiction=s.spec.jurisdiction, api=api_url, token=token,
                                   catalogue=published.resolve(),
                                   aggregates={SEGMENTS_DATASET: SEGMENTS_FILE})
        write_silo(s, root / brand / "silo")
        crm_export(s).to_csv(root / brand / "crm" / "consents.csv", index=False)
        (root / brand / "crm" / "consent_map.yaml").write_text(CONSENT_MAP, encoding="utf-8")
    if on_generated:
        on_generated()
    for path in configs.values():
        import_consents(load_node(str(path)), policies=policies, today=AS_OF.date())
    set_simulation_nodes(configs)
    settings = RunSettings(
        run_id=str(uuid.uuid4()), brands=tuple(configs), consent_as_of=AS_OF.isoformat(),
        rounds=rounds, cutoff=DEFAULT_CUTOFF.isoformat(), horizon_days=DEFAULT_HORIZON_DAYS,
        seed=seed, dp_epsilon=dp_epsilon)
    return Alliance(settings, configs, root)


def recommend_settings(alliance: Alliance) -> RunSettings:
    """The recommender's run beside the churn run: same brands, consent time and DP target,
    over the alliance catalogue the demo published. Under DP its item side is released as
    item statistics (`federation.models.item_statistics`), not trained by DP-SGD."""
    return replace(alliance.settings, run_id=str(uuid.uuid4()), model="recommend",
                   items=len(load_catalogue(alliance.catalogue)), local_epochs=2,
                   learning_rate=0.01)


def require_empty(db: Database) -> None:
    """The demo's story holds on an empty compliance database only: its 2.0 epsilon budget
    spent to a refusal, 80,000 individuals sent abroad inside the year's 100,000 band, its
    brands registered afresh. On one that already holds brands (an earlier demo in the same
    directory) it would fail minutes in, so it is refused before anything is written."""
    with db.reading() as session:
        brands = session.scalar(select(func.count()).select_from(Brand)) or 0
    if brands:
        raise ConflictError(
            f"comity demo needs an empty compliance database, and this one already holds "
            f"{brands} registered brands (an earlier demo?): remove the .comity directory "
            "or set COMITY_DATABASE_URL to an empty database")


def run_demo(out_dir: Path, *, db: Database, api_url: str, seed: int = 7, rounds: int = 8,
             scale: float = 1.0, epsilon: float = DEMO_EPSILON, keep_silos: Path | None = None,
             step: StepFn | None = None, progress: ProgressFn | None = None) -> DemoResult:
    """The whole job on one machine. The coordinator's API must be up at `api_url` (the CLI
    serves it from a thread): the brand nodes import, sync and fetch through it."""
    require_empty(db)
    step = step or (lambda _s: None)
    silo_root = keep_silos or Path(tempfile.mkdtemp(prefix="comity-silos-"))
    try:
        step("Generating synthetic brand silos and each brand's node (its own keys)")
        alliance = prepare_alliance(db, silo_root, api_url=api_url, seed=seed, scale=scale,
                                    rounds=rounds, dp_epsilon=epsilon,
                                    on_generated=lambda: step(
                                        "Each brand imports its CRM consent export through "
                                        "the API (pseudonymized at the brand)"))
        settings = alliance.settings
        nodes = list(alliance.nodes().values())
        step(f"Federated churn training over {len(settings.brands)} brands: SecAgg+"
             + (f", DP-SGD epsilon {epsilon:g}" if epsilon > 0 else "") + " (Flower simulation)")
        outcome = simulate(settings, db, progress=labelled(progress, "churn"))
        step("Membership-inference audit of the trained model (at the brands)")
        audit_run(db, outcome.run_id, nodes, actor="dpo")
        step("Federated recommender over the alliance catalogue (shared items; under DP "
             "released as item statistics) and its membership-inference audit")
        recommender = simulate(recommend_settings(alliance), db,
                               progress=labelled(progress, "recommender"))
        audit_run(db, recommender.run_id, nodes, actor="dpo")
        step("DP aggregates across the brands' silos (SecAgg+ sum, OpenDP noise, budget)")
        aggregates = demo_aggregates(db, alliance)
        step("Data-subject requests: access, withdrawal, deletion (second-person approval)")
        demo_requests(db, settings.brands, settings.purpose)
        step("Governance: the alliance agreement, an impact assessment approved by the DPO, "
             "a cross-border transfer refused past its band, an incident")
        demo_governance(db, settings.brands)
        step("Brand operations: a staff member's masked lookup, a supervisor's confirmed "
             "reveal, an A/B readout (and one refused for a small arm), the 7-day trace")
        operations = demo_operations(db, alliance, out_dir, seed=seed)
        step("Retention sweep, a signed audit checkpoint, and each brand witnesses it")
        RetentionService(db, load_policies(), actor="retention").sweep()
        with db.unit_of_work() as session:
            AuditLog(session).checkpoint(audit_signing_key())
        for node in nodes:
            node.witness(strict=False)
        step("Writing the DPO report (checklist, evidence, charts)")
        with db.unit_of_work() as session:
            report = build_report(session)
        paths = write_report(report, out_dir)
        (out_dir / "aggregates.json").write_text(
            json.dumps(aggregates, ensure_ascii=False, indent=2), encoding="utf-8")
        paths["aggregates"] = out_dir / "aggregates.json"
        (out_dir / "operations.json").write_text(
            json.dumps(operations, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        paths["operations"] = out_dir / "operations.json"
        return DemoResult(report, paths, outcome, recommender, aggregates)
    finally:
        if keep_silos is None:
            shutil.rmtree(silo_root, ignore_errors=True)
