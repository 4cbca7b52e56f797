"""De-duplicated federated aggregates on real parts: three brand nodes (their own keys, silos
and consent copies synced from the coordinator's API on loopback), the linkage ring and the
SecAgg+ round through Flower's runtime. The answer is over the linked population, each
person counted once, with the noise of one silo; the linkage is in lineage and the audit."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from compliance.audit.models import AuditEvent
from compliance.database import Database
from compliance.policy.loader import load_policies, policy_dir
from compliance.tokens.service import TokenService
from federation.brand.node import BrandNode, set_simulation_nodes
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService
from privacy.overlap.models import OverlapRun
from tests.compliance.governance.records import approved_assessment
from tests.privacy.overlap.records import brand_node

pytestmark = pytest.mark.integration
BRANDS = ("jade-beauty", "lumen-tea", "north-outfitters")  # parties of the agreement, sorted
LAYOUTS = ("13812345{}", "138 1234 5{}", "+86-138-1234-5{}")
# suffix range -> consent at each brand (None: not a customer there)
GROUPS: list[tuple[range, tuple[str | None, str | None, str | None]]] = [
    (range(0, 30), ("sep", "sep", "sep")),  # at all three: counted once
    (range(100, 120), (None, "sep", "sep")),  # at two
    (range(200, 210), (None, "sep", "other")),  # linked at one (the other has no consent)
    (range(300, 315), ("sep", None, None)),  # at one only
    (range(400, 425), (None, "gone", None)),  # withdrawn: never linked
]
LINKED = 30 + 20 + 10 + 15
ALL_ROWS = 30 * 3 + 20 * 2 + 10 * 2 + 15 + 25


def _agreement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exact_to: list[str]) -> None:
    """The product's policies with the agreement's `exact_to` replaced (COMITY_POLICY_DIR,
    read by this process and the simulation's brand workers)."""
    import shutil

    import yaml

    root = tmp_path / "policies"
    shutil.copytree(policy_dir(), root)
    path = root / "alliance_agreement.yaml"
    agreement = yaml.safe_load(path.read_text(encoding="utf-8"))
    agreement["join_key"]["exact_to"] = exact_to
    path.write_text(yaml.safe_dump(agreement, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("COMITY_POLICY_DIR", str(root))


def _nodes(db: Database, tmp_path: Path, api_url: str) -> dict[str, BrandNode]:
    nodes = {}
    for i, brand in enumerate(BRANDS):
        people = {f"{s:03d}": c[i] for r, c in GROUPS for s in r if c[i] is not None}
        silo = tmp_path / f"{brand}-rows.parquet"
        pl.DataFrame({"cid": [f"{brand[:1]}-{s}" for s in people],
                      "spend": [10.0] * len(people)}).write_parquet(silo)
        nodes[brand] = brand_node(db, tmp_path, api_url, brand, layout=LAYOUTS[i],
                                  suffixes=people, aggregates={"alliance": str(silo)})
    set_simulation_nodes({b: n.config.source for b, n in nodes.items()})
    AggregateService(db, load_policies()).register(
        "alliance", tmp_path / f"{BRANDS[0]}-rows.parquet", "cid", actor="test",
        bounds={"spend": (0.0, 100.0)},
        silos={b: tmp_path / f"{b}-rows.parquet" for b in BRANDS}, max_rows=10_000)
    return nodes


@pytest.mark.slow
def test_dedup_counts_each_linked_person_once_with_one_silo_of_noise(
        db: Database, tmp_path: Path, api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _agreement(tmp_path, monkeypatch, list(BRANDS))  # every linked brand learns its keep bits
    _nodes(db, tmp_path, api_url)
    approved_assessment(db, "cross_brand_sharing", {"psi": "dh-x25519"})
    with db.unit_of_work() as s:
        token = TokenService(s).create("service:growth", principal="growth")
    client = TestClient(create_app(db))
    r = client.post("/v1/aggregates", headers={"Authorization": f"Bearer {token}"},
                    json={"dataset": "alliance", "measure": "count", "epsilon": 2.0,
                          "federated": True, "dedup": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["population"] == "linked"
    noise = body["noise"][0]
    assert noise["silos_per_person"] == 1 and noise["scale"] == pytest.approx(1 / 2.0)
    # 75 linked people; counting every row of every silo would give 190. The 99.99%
    # interval of Laplace(0.5) is +-4.6.
    assert abs(body["groups"][0]["value"] - LINKED) <= 5
    assert ALL_ROWS - LINKED > 100
    with db.reading() as s:
        run = s.scalars(select(OverlapRun).where(OverlapRun.mode == "dedup")).one()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "overlap.release")
                          ).one()
        release = s.scalars(select(AuditEvent).where(AuditEvent.action == "aggregate.release")
                            ).one()
    entered = {"jade-beauty": 30 + 15, "lumen-tea": 30 + 20 + 10, "north-outfitters": 30 + 20}
    assert run.entered == entered
    assert event.data["mode"] == "dedup" and event.data["brands"] == list(BRANDS)
    assert sum(event.data["kept"].values()) == LINKED
    assert event.data["dropped_duplicates"] == sum(entered.values()) - LINKED
    assert release.data["dedup"] is True
    assert release.data["linkage_run_id"] == run.run_id == event.data["run_id"]
    for b in BRANDS:  # the brands' linkage files are read once and gone
        assert not list((tmp_path / b / "state" / "dedup").glob("*.csv"))


def test_dedup_needs_a_federated_query() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="federated"):
        AggregateQuery(dataset="d", measure="count", epsilon=1.0, dedup=True)


def test_cli_dedup_flag_asks_across_the_silos(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`comity query --dedup` sets "federated" and "dedup": on a dataset with no silos it is
    refused for that reason, where the same query without the flag is answered pooled."""
    from typer.testing import CliRunner

    from api.cli import app
    from api.composition import default_services

    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("COMITY_DATABASE_URL", url)
    monkeypatch.setenv("COMITY_KEY_DIR", str(tmp_path / "keys"))
    db = Database(url)
    path = tmp_path / "rows.parquet"
    pl.DataFrame({"cid": [f"c{i}" for i in range(50)], "spend": [1.0] * 50}).write_parquet(path)
    AggregateService(db, load_policies()).register("rows", path, "cid", actor="test",
                                                   bounds={"spend": (0.0, 10.0)})
    db.dispose()
    body = '{"dataset": "rows", "measure": "count", "epsilon": 1.0}'
    outputs = []
    for flags in (["--dedup"], []):
        default_services.cache_clear()
        res = CliRunner().invoke(app, ["query", "--requester", "service:x", *flags, body])
        default_services().db.dispose()
        default_services.cache_clear()
        outputs.append((res.exit_code, res.output))
    assert outputs[0][0] == 2 and "no brand silos" in outputs[0][1], outputs[0]
    assert outputs[1][0] == 0 and '"population": "all"' in outputs[1][1], outputs[1]


def test_without_the_linkage_assessment_nothing_is_linked_or_spent(db: Database,
                                                                   tmp_path: Path) -> None:
    """Linking customers across brands needs the overlap's agreement and approved impact
    assessment (PIPL Art. 55(3)): refused before any brand is asked, no budget spent."""
    from compliance.governance.errors import RunRefused

    svc, q = _refusing_service(db, tmp_path)
    with pytest.raises(RunRefused, match="cross_brand_sharing"):
        svc.query("service:growth", q)
    assert all(v.spent_epsilon == 0 for v in svc.budgets("service:growth"))


def test_a_brand_the_agreement_does_not_let_learn_members_is_not_linked(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A brand learns that a customer it does not keep is also another brand's, so every
    brand of a de-duplicated query must be in the agreement's `exact_to`: refused by that
    rule, naming the brand, before any brand is asked, no budget spent, the refusal audited."""
    from compliance.governance.errors import RunRefused

    _agreement(tmp_path, monkeypatch, list(BRANDS[1:]))
    approved_assessment(db, "cross_brand_sharing", {"psi": "dh-x25519"})
    svc, q = _refusing_service(db, tmp_path)
    with pytest.raises(RunRefused) as refused:
        svc.query("service:growth", q)
    assert refused.value.rule_id == "alliance.join_key.exact_to"
    assert BRANDS[0] in refused.value.message
    assert all(v.spent_epsilon == 0 for v in svc.budgets("service:growth"))
    with db.reading() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "overlap.refused")
                           ).all()
    assert [e.rule_id for e in events] == ["alliance.join_key.exact_to"]


def _refusing_service(db: Database, tmp_path: Path) -> tuple[AggregateService, AggregateQuery]:
    """The three brands registered with one-row silos, a de-duplicated query, and a service
    whose secure sum fails the test if any brand is asked."""
    from compliance.subjects.service import SubjectService
    from privacy.overlap.service import OverlapService

    with db.unit_of_work() as s:
        for b in BRANDS:
            SubjectService(s).register_brand(b, b.title(), "pipl", actor="test")
    for b in BRANDS:
        pl.DataFrame({"cid": ["x"], "spend": [1.0]}).write_parquet(tmp_path / f"{b}.parquet")

    def dedup_sum(plan: object, run_id: str, as_of: str) -> tuple[object, object]:
        raise AssertionError("no brand may be asked")

    svc = AggregateService(db, load_policies(), dedup_sum=dedup_sum,  # type: ignore[arg-type]
                           linkage=OverlapService(db, load_policies()))
    svc.register("alliance", tmp_path / f"{BRANDS[0]}.parquet", "cid", actor="test",
                 bounds={"spend": (0.0, 10.0)},
                 silos={b: tmp_path / f"{b}.parquet" for b in BRANDS})
    return svc, AggregateQuery(dataset="alliance", measure="count", epsilon=1.0,
                               federated=True, dedup=True)
