"""The composition root: the one place the API and the command line build their
collaborators (database, policies, PII scanner, DP aggregate service), each once, on first
use. Tests pass their own database in."""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.policy.schemas import PolicySet

if TYPE_CHECKING:  # OpenDP, Presidio, Flower: loaded only by what uses them
    import numpy as np

    from privacy.aggregates.federated import FederatedPlan
    from privacy.aggregates.service import AggregateService
    from privacy.detection.analyzer import PiiScanner
    from privacy.overlap.dedup import DedupCounts
    from privacy.overlap.schemas import PsiCounts
    from privacy.overlap.service import OverlapService


def simulated_secure_sum(plan: FederatedPlan) -> tuple[np.ndarray, int]:
    """Federated aggregates through Flower's simulation runtime, one SuperNode per silo.
    Imported on first use: Flower, Ray and torch stay out of the API's start-up."""
    from federation.runtime.simulation import simulate_secure_sum

    return simulate_secure_sum(plan)


def simulated_dedup_sum(plan: FederatedPlan, run_id: str, as_of: str
                        ) -> tuple[np.ndarray, DedupCounts]:
    """De-duplicated federated aggregates (the linkage ring, then SecAgg+) through Flower's
    simulation runtime, one SuperNode per silo, as `simulated_secure_sum`."""
    from federation.runtime.simulation import simulate_dedup_sum

    return simulate_dedup_sum(plan, run_id, as_of)


def simulated_overlap(run_id: str, brands: tuple[str, str], as_of: str, exact: bool
                      ) -> PsiCounts:
    """Cross-brand PSI through Flower's simulation runtime, the two brands' nodes named in
    `COMITY_SIMULATION_NODES` (as for federated aggregates)."""
    from federation.gate.overlap import OverlapRequest
    from federation.runtime.simulation import simulate_overlap

    return simulate_overlap(OverlapRequest(run_id=run_id, brands=brands, as_of=as_of,
                                           exact=exact))


class Services:
    def __init__(self, db: Database | None = None, *, url: str | None = None) -> None:
        self._db = db
        self._url = url

    @cached_property
    def db(self) -> Database:
        return self._db or Database(self._url)

    def existing_db(self) -> Database:
        """`db`, for a command that only reads, or acts on records already there: a database
        that is not there is refused, never created (`Database(must_exist=True)`); `db`
        and the services built on it are this one from then on."""
        if self._db is None and "db" not in self.__dict__:
            self.__dict__["db"] = Database(self._url, must_exist=True)
        return self.db

    @cached_property
    def policies(self) -> PolicySet:
        return load_policies()

    @cached_property
    def scanner(self) -> PiiScanner:
        from privacy.detection.analyzer import PiiScanner

        return PiiScanner()

    @cached_property
    def aggregates(self) -> AggregateService:
        from privacy.aggregates.service import AggregateService

        return AggregateService(self.db, self.policies, secure_sum=simulated_secure_sum,
                                dedup_sum=simulated_dedup_sum, linkage=self.overlaps)

    @cached_property
    def overlaps(self) -> OverlapService:
        from privacy.overlap.service import OverlapService

        return OverlapService(self.db, self.policies, run=simulated_overlap)

    def deployed_overlaps(self, app_dir: Path | None = None) -> OverlapService:
        """Overlaps on the deployment runtime: `flwr run` to the SuperLink in FLWR_HOME."""
        from federation.runtime.overlap import overlap_on_deployment
        from federation.runtime.training import PROJECT_ROOT
        from privacy.overlap.service import OverlapService

        def run(run_id: str, brands: tuple[str, str], as_of: str, exact: bool) -> PsiCounts:
            return overlap_on_deployment(run_id, brands, as_of, exact,
                                         app_dir=app_dir or PROJECT_ROOT)

        return OverlapService(self.db, self.policies, run=run)


@lru_cache(maxsize=1)
def default_services() -> Services:
    """This process's services on the embedded default (or `COMITY_DATABASE_URL`), built once:
    what the command line uses."""
    return Services()


def existing_services() -> Services:
    """`default_services()` for the commands that only read, or act on records already
    there: with no database they fail and create nothing (`Services.existing_db`)."""
    services = default_services()
    services.existing_db()
    return services
