"""A cross-brand overlap on the deployment runtime: a SuperLink and two SuperNodes as
processes on loopback (`comity node start` from each brand's own config), the brands syncing
their consent from the coordinator's API, `flwr run` with the overlap's strategy; exact mode
leaves the plain intersection of the consented customers at the requesting brand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from compliance.database import Database
from compliance.policy.loader import load_policies
from federation.brand.node import BrandNode
from federation.brand.overlap import result_path
from federation.runtime.deployment import LocalDeployment
from federation.runtime.overlap import overlap_on_deployment
from privacy.overlap.schemas import OverlapIn, PsiCounts
from privacy.overlap.service import OverlapService
from tests.privacy.overlap.test_overlap import A, B, _assessment, _consented, nodes  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_exact_overlap_through_superlink_and_supernodes(
        db: Database, tmp_path: Path, nodes: dict[str, BrandNode],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    _assessment(db)
    results = tmp_path / "coordinator-overlaps"
    monkeypatch.setenv("COMITY_OVERLAP_DIR", str(results))
    dep = LocalDeployment(tmp_path / "deploy", {b: n.config.source for b, n in nodes.items()},
                          coordinator_env={"COMITY_OVERLAP_DIR": str(results)})
    with dep:
        def run(run_id: str, brands: tuple[str, str], as_of: str, exact: bool) -> PsiCounts:
            return overlap_on_deployment(run_id, brands, as_of, exact, home=dep.flwr_home,
                                         timeout=600)

        out = OverlapService(db, load_policies(), run=run).overlap(
            "dpo", OverlapIn(brands=[A, B], exact=True))
    truth = _consented(0) & _consented(1)
    assert out.size == len(truth)
    with open(result_path(nodes[A], out.run_id), encoding="utf-8") as f:
        assert {r["customer_id"] for r in csv.DictReader(f)} == {f"l-{s}" for s in truth}
    assert not list(results.glob("*.json"))  # the counts file was read and deleted
