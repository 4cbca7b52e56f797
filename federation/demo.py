"""`comity demo`: the whole path once, on the embedded default.

Brands' silos are generated into a private temporary directory (raw PII lives only
there and is deleted at the end unless kept); only pseudonyms, flags and consent
events reach the compliance database; the report carries counts and hashes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.report.builder import build_report
from compliance.report.render import write_report
from compliance.subjects.service import SubjectService
from federation.coordinator import RunOutcome
from federation.settings import RunSettings
from federation.silo import write_silo
from federation.simulation import simulate
from federation.synthetic import AS_OF, DEFAULT_CUTOFF, DEFAULT_HORIZON_DAYS, generate_alliance
from privacy.keys import key_dir
from privacy.pseudonym import Pseudonymizer

StepFn = Callable[[str], None]
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoResult:
    report: dict
    paths: dict[str, Path]
    outcome: RunOutcome


def prepare_alliance(db: Database, silo_root: Path, *, seed: int = 7, scale: float = 1.0,
                     rounds: int = 8, on_generated: Callable[[], None] | None = None
                     ) -> RunSettings:
    """Write each brand's synthetic silo under `silo_root`, sync only pseudonymous subjects,
    flags and consents to the compliance database, and return the run's settings."""
    policies = load_policies()
    silos = generate_alliance(seed=seed, scale=scale)
    for s in silos:
        write_silo(s, silo_root / s.spec.brand_id)
    if on_generated:
        on_generated()
    for s in silos:
        with db.unit_of_work() as session:
            svc = SubjectService(session)
            svc.register_brand(s.spec.brand_id, s.spec.name, s.spec.jurisdiction,
                               actor="admin")
            svc.import_consents(
                s.spec.brand_id, s.customers, s.consents,
                pseudonym=Pseudonymizer.for_brand(s.spec.brand_id),
                minor_age=policies.jurisdictions[s.spec.jurisdiction].minor_age,
                as_of=AS_OF, guardian_ids=s.minors_with_guardian,
                actor=f"brand:{s.spec.brand_id}")
    return RunSettings(
        run_id=str(uuid.uuid4()), brands=tuple(s.spec.brand_id for s in silos),
        silo_root=str(silo_root), database_url=db.url, consent_as_of=AS_OF.isoformat(),
        rounds=rounds, cutoff=DEFAULT_CUTOFF.isoformat(), horizon_days=DEFAULT_HORIZON_DAYS,
        seed=seed)


def run_demo(out_dir: Path, *, db: Database, seed: int = 7, rounds: int = 8,
             scale: float = 1.0, keep_silos: Path | None = None,
             step: StepFn | None = None, progress: ProgressFn | None = None) -> DemoResult:
    step = step or (lambda _s: None)
    os.environ["COMITY_KEY_DIR"] = str(key_dir().resolve())  # Ray workers inherit it
    silo_root = keep_silos or Path(tempfile.mkdtemp(prefix="comity-silos-"))
    try:
        step("Generating synthetic brand silos")
        settings = prepare_alliance(db, silo_root, seed=seed, scale=scale, rounds=rounds,
                                    on_generated=lambda: step(
                                        "Syncing pseudonymous subjects and consent records"))
        step(f"Federated churn training over {len(settings.brands)} brands (Flower simulation)")
        outcome = simulate(settings, db, progress=progress)
        step("Writing the DPO report")
        with db.unit_of_work() as session:
            report = build_report(session, as_of=AS_OF)
        paths = write_report(report, out_dir)
        return DemoResult(report, paths, outcome)
    finally:
        if keep_silos is None:
            shutil.rmtree(silo_root, ignore_errors=True)
