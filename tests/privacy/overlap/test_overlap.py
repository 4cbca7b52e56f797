"""Cross-brand overlap on real parts: two brand nodes (their own keys, silos and consent
copies synced from the coordinator's API on loopback) and the coordinator relaying blinded
points in Flower query rounds. Only customers whose separate consent for cross_brand_sharing
the policy engine accepts ever enter; exact mode gives the requesting brand the plain
intersection of those customers; the noisy size is charged and audited."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from compliance.audit.models import AuditEvent
from compliance.consent.service import ConsentService
from compliance.consent.state import snapshot_digest
from compliance.database import Database
from compliance.errors import ComityError
from compliance.governance.errors import RunRefused
from compliance.policy.loader import load_policies
from compliance.subjects.service import SubjectService
from federation.brand.node import BrandNode, set_simulation_nodes
from federation.brand.overlap import entered, result_path
from privacy.aggregates.ledger import budget_views
from privacy.overlap.models import OverlapRun
from privacy.overlap.schemas import OverlapIn, PsiCounts
from privacy.overlap.service import OverlapService
from tests.compliance.governance.records import approved_assessment
from tests.privacy.overlap.records import brand_node

pytestmark = pytest.mark.integration
A, B = "lumen-tea", "north-outfitters"  # parties of policies/alliance_agreement.yaml
# phone suffix -> consent at A, consent at B: "sep" separate consent, "other" a consent for
# model training only, "gone" granted separately then withdrawn, None no record at all. (A
# cross_brand_sharing grant that is not separate never gets in: the import refuses it.)
PEOPLE = {
    "0001": ("sep", "sep"), "0002": ("sep", "sep"), "0003": ("sep", "other"),
    "0004": ("other", "sep"), "0005": ("sep", "gone"), "0006": ("sep", None),
    "0007": (None, "sep"), "0008": ("sep", "sep"), "0009": ("gone", "sep"),
    "0010": ("sep", "sep"),
}
ONLY_A = ["1001", "1002"]
ONLY_B = ["2001"]


def _assessment(db: Database) -> None:
    """PIPL Art. 55(3): providing to another handler needs an approved assessment first."""
    approved_assessment(db, "cross_brand_sharing", {"psi": "dh-x25519"})


@pytest.fixture
def nodes(db: Database, tmp_path: Path, api_url: str) -> dict[str, BrandNode]:
    # Each brand writes the same person's number in its own layout: the join key is E.164.
    a = brand_node(db, tmp_path, api_url, A, layout="138 1234 {}", suffixes={
        **{s: c[0] for s, c in PEOPLE.items()}, **dict.fromkeys(ONLY_A, "sep")})
    b = brand_node(db, tmp_path, api_url, B, layout="+86-138-1234-{}", suffixes={
        **{s: c[1] for s, c in PEOPLE.items()}, **dict.fromkeys(ONLY_B, "sep")})
    set_simulation_nodes({A: a.config.source, B: b.config.source})
    return {A: a, B: b}


def _consented(side: int) -> set[str]:
    return {s for s, c in PEOPLE.items() if c[side] == "sep"}


def test_only_separately_consented_customers_enter(nodes: dict[str, BrandNode]) -> None:
    got = entered(nodes[A], datetime.now(UTC))
    assert set(got.keys) == {f"+861381234{s}" for s in _consented(0) | set(ONLY_A)}
    # another purpose's consent, withdrawn consent and no record: kept out, all three
    assert got.refused == sum(1 for c in PEOPLE.values() if c[0] != "sep")


@pytest.mark.slow
def test_overlap_through_flower_exact_is_the_plain_intersection_and_noisy_size_is_charged(
        db: Database, nodes: dict[str, BrandNode]) -> None:
    from api.composition import simulated_overlap

    _assessment(db)
    svc = OverlapService(db, load_policies(), run=simulated_overlap)
    exact = svc.overlap("dpo", OverlapIn(brands=[A, B], exact=True), actor="dpo#1")
    truth = _consented(0) & _consented(1)  # phones both brands may share: 0001 0002 0008 0010
    assert exact.size == len(truth) == 4
    with open(result_path(nodes[A], exact.run_id), encoding="utf-8") as f:
        shared = {r["customer_id"] for r in csv.DictReader(f)}
    assert shared == {f"l-{s}" for s in truth}
    assert exact.entered == {A: len(_consented(0)) + len(ONLY_A),
                             B: len(_consented(1)) + len(ONLY_B)}
    noisy = svc.overlap("service:growth", OverlapIn(brands=[A, B], epsilon=1.0))
    assert noisy.mode == "cardinality" and noisy.ci95 is not None
    assert abs(noisy.size - 4) <= 30  # scale 1 at epsilon 1: |noise| > 30 has odds ~1e-13
    assert not result_path(nodes[A], noisy.run_id).exists()  # only the size, nowhere a list
    with db.reading() as s:
        runs = s.scalars(select(OverlapRun).order_by(OverlapRun.id)).all()
        assert [(r.mode, r.requester, r.epsilon_micro) for r in runs] == [
            ("exact", "dpo", 0), ("cardinality", "service:growth", 1_000_000)]
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "overlap.release")
                           ).all()
        assert [e.data["size_released"] for e in events] == [4, noisy.size]
        assert events[1].data["entered"] == exact.entered
        at = runs[0].consent_as_of
        assert events[0].data["consent_snapshot_sha256"] == {  # the coordinator's own records
            b: snapshot_digest(ConsentService(s).snapshot(b, "cross_brand_sharing", at))
            for b in (A, B)}
        [ledger] = [v for v in budget_views(s, "service:growth")]
        assert ledger.spent_epsilon == 1.0 and ledger.dataset == f"overlap:{A}+{B}"


def test_refused_without_assessment_or_outside_exact_to(db: Database,
                                                        nodes: dict[str, BrandNode]) -> None:
    calls: list[str] = []

    def never(run_id: str, brands: tuple[str, str], as_of: str, exact: bool) -> PsiCounts:
        calls.append(run_id)
        raise AssertionError("a refused overlap must not run")

    svc = OverlapService(db, load_policies(), run=never)
    with pytest.raises(RunRefused) as no_pia:
        svc.overlap("dpo", OverlapIn(brands=[A, B]))
    assert no_pia.value.rule_id == "pia.art55_3.provide_to_handler"
    _assessment(db)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("jade-beauty", "Jade", "pipl", actor="test")
    with pytest.raises(RunRefused) as not_listed:  # jade-beauty is not in exact_to
        svc.overlap("dpo", OverlapIn(brands=["jade-beauty", A], exact=True))
    assert not_listed.value.rule_id == "alliance.join_key.exact_to"
    assert calls == []


def test_a_brand_gating_on_other_consent_records_releases_nothing(
        db: Database, nodes: dict[str, BrandNode]) -> None:
    _assessment(db)

    def stale(run_id: str, brands: tuple[str, str], as_of: str, exact: bool) -> PsiCounts:
        # What a brand with an out-of-date or edited consent copy would report.
        return PsiCounts({A: 7, B: 7}, 4, None, {}, {A: "0" * 64, B: "0" * 64})

    with pytest.raises(ComityError) as exc:
        OverlapService(db, load_policies(), run=stale).overlap(
            "service:growth", OverlapIn(brands=[A, B]))
    assert exc.value.status_code == 502 and "consent snapshot" in exc.value.message
    with db.reading() as s:
        assert s.scalars(select(OverlapRun)).all() == []
        assert all(v.spent_epsilon == 0 for v in budget_views(s, "service:growth"))
