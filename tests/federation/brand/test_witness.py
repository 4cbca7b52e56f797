"""Brands witness the coordinator's audit log through its real API: each keeps the signed tree
heads it saw and accepts a new one only with a valid signature under the pinned key and an
RFC 6962 consistency proof from the last head it saw. The fault test cuts the log's tail with
its checkpoint directly in the coordinator's database and appends another tail: the
coordinator's own verify cannot tell, the brand that saw the cut checkpoint can."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from compliance.audit.checkpoint_models import AuditCheckpoint, AuditWitness
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.errors import ComityError
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from federation.brand.config import load_brand_config
from federation.brand.node import BrandNode, load_node
from federation.brand.provision import init_node
from federation.brand.witness import WitnessAlarm
from federation.runtime.deployment import free_port
from privacy.keys import audit_signing_key, key_dir

pytestmark = pytest.mark.integration


def _node(db: Database, tmp_path: Path, api_url: str, brand: str = "tea-brand") -> BrandNode:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand(brand, brand.title(), "pipl", actor="test")
        token = TokenService(s).create(f"brand:{brand}", principal=f"{brand}-node")
    path = init_node(tmp_path / brand, brand_id=brand, jurisdiction="pipl", api=api_url,
                     token=token)
    (tmp_path / brand / "silo" / "column_map.yaml").write_text(f"brand_id: {brand}\n")
    return load_node(str(path))


def _events(db: Database, n: int, tag: str = "x") -> None:
    with db.unit_of_work() as s:
        for i in range(n):
            AuditLog(s).record("test.event", actor="tester", data={"tag": tag, "i": i})


def _checkpoint(db: Database) -> AuditCheckpoint:
    with db.unit_of_work() as s:
        cp = AuditLog(s).checkpoint(audit_signing_key())
        assert cp is not None
        return cp


def _cut(db: Database, keep: int) -> None:
    """The attacker at the coordinator: delete every event after `keep` and every checkpoint
    that covers one of them, straight in the database."""
    with db.unit_of_work() as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_seq > keep))
        s.execute(delete(AuditEvent).where(AuditEvent.seq > keep))


def test_a_brand_pins_the_key_checks_consistency_and_reports(db: Database, tmp_path: Path,
                                                             api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    assert node.witness().status == "no_checkpoint"  # nothing signed yet: nothing to check
    _events(db, 5)
    first = _checkpoint(db)
    got = node.witness()
    assert (got.status, got.tree_size, got.tree_root) == ("witnessed", first.tree_size,
                                                           first.tree_root)
    assert node.witnesses.pinned_key() == first.public_key  # pinned on first use
    _events(db, 7)
    _checkpoint(db)
    _events(db, 1)
    second = _checkpoint(db)
    got = node.witness()
    assert (got.status, got.tree_size, got.previous_size) == ("witnessed", second.tree_size,
                                                              first.tree_size)
    assert node.witness().status == "unchanged"
    assert [h.tree_size for h in node.witnesses.heads()] == [first.tree_size, second.tree_size]
    assert node.witnesses.alarms() == []
    with db.reading() as s:
        rows = s.scalars(select(AuditWitness).order_by(AuditWitness.tree_size)).all()
        assert [(r.brand_id, r.tree_size) for r in rows] == [
            ("tea-brand", first.tree_size), ("tea-brand", second.tree_size)]
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "audit.witnessed")) == 2
        assert AuditLog(s).verify().verified
    assert (node.witnesses.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("shape", ["shorter", "same_size", "longer", "resigned"])
def test_a_cut_tail_with_its_checkpoint_is_caught_by_a_witness(
        db: Database, tmp_path: Path, api_url: str, shape: str) -> None:
    node = _node(db, tmp_path, api_url)
    _events(db, 6)
    _checkpoint(db)
    assert node.witness().status == "witnessed"
    _events(db, 4)
    seen = _checkpoint(db)  # the brand witnesses this one; the attacker then cuts it
    assert node.witness().tree_size == seen.tree_size and seen.tree_size is not None
    keep = seen.tree_size - 3
    _cut(db, keep)
    if shape == "resigned":  # a checkpoint at the very size the brand saw, then more
        _events(db, 3, tag="forged")
        _checkpoint(db)
        _events(db, 2, tag="forged")
    else:
        _events(db, {"shorter": 1, "same_size": 3, "longer": 6}[shape], tag="forged")
    forged = _checkpoint(db)
    with db.reading() as s:
        assert AuditLog(s).verify().verified  # invisible from inside the coordinator
    with pytest.raises(WitnessAlarm) as caught:
        node.witness()
    expected = {"shorter": "truncated", "same_size": "fork", "longer": "missing_checkpoint",
                "resigned": "fork"}[shape]
    assert caught.value.kind == expected and "AUDIT LOG ALARM" in caught.value.message
    (alarm,) = node.witnesses.alarms()
    assert alarm.kind == expected and alarm.seen_tree_size == seen.tree_size
    assert alarm.head["tree_root"] == forged.tree_root  # the head that failed, kept as proof
    assert node.witnesses.latest() is not None
    assert node.witnesses.latest().tree_root == seen.tree_root  # type: ignore[union-attr]
    with pytest.raises(WitnessAlarm):  # not accepted: raised again until someone looks
        node.witness()
    assert len(node.witnesses.alarms()) == 2
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(AuditWitness).where(
            AuditWitness.tree_root == forged.tree_root)) == 0


def test_another_signing_key_is_an_alarm(db: Database, tmp_path: Path, api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    _events(db, 2)
    _checkpoint(db)
    node.witness()
    (key_dir() / "audit-signing.key").unlink()  # the coordinator now signs with a new key
    _events(db, 2)
    _checkpoint(db)
    with pytest.raises(WitnessAlarm) as caught:
        node.witness()
    assert caught.value.kind == "key_changed"


def test_a_configured_key_wins_over_first_use(db: Database, tmp_path: Path,
                                              api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    text = node.config.source.read_text()
    node.config.source.write_text(text.replace(
        "[coordinator]\n", f"[coordinator]\naudit_public_key = \"{'ab' * 32}\"\n"))
    pinned = BrandNode(load_brand_config(node.config.source))  # the config read afresh
    _events(db, 2)
    _checkpoint(db)
    with pytest.raises(WitnessAlarm) as caught:
        pinned.witness()
    assert caught.value.kind == "key_changed"
    assert pinned.witnesses.pinned_key() == "ab" * 32


def test_a_coordinator_that_cannot_answer_does_not_break_other_calls(
        db: Database, tmp_path: Path) -> None:
    node = _node(db, tmp_path, f"http://127.0.0.1:{free_port()}")
    got = node.witness(strict=False)
    assert got.status == "skipped" and "not reachable" in (got.problem or "")
    with pytest.raises(ComityError):
        node.witness()


def test_consent_sync_witnesses_and_node_witness_reports_an_alarm(
        db: Database, tmp_path: Path, api_url: str, sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app
    from api.composition import default_services

    node = _node(db, tmp_path, api_url)
    config = str(node.config.source)
    runner = CliRunner()
    r = runner.invoke(app, ["consent", "sync", "--config", config])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["witness"]["status"] == "no_checkpoint"
    _events(db, 4)
    monkeypatch.setenv("COMITY_DATABASE_URL", sqlite_url)  # the operator seals the log
    default_services.cache_clear()
    try:
        r = runner.invoke(app, ["audit", "checkpoint"])
    finally:
        default_services.cache_clear()
    assert r.exit_code == 0, r.output
    cp = json.loads(r.stdout)["checkpoint"]
    r = runner.invoke(app, ["consent", "sync", "--config", config])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["witness"]["status"] == "witnessed" and "subjects" in out
    assert (out["witness"]["tree_size"], out["witness"]["tree_root"]) == (cp["tree_size"],
                                                                          cp["tree_root"])
    assert node.witnesses.pinned_key() == cp["public_key"]
    _cut(db, cp["tree_size"] - 1)
    _events(db, 1, tag="forged")
    _checkpoint(db)
    r = runner.invoke(app, ["node", "witness", "--config", config])
    assert r.exit_code == 3 and "AUDIT LOG ALARM (fork)" in r.stderr, r.output
    assert json.loads(r.stdout) == {"status": "alarm", "kind": "fork"}
    r = runner.invoke(app, ["consent", "sync", "--config", config])
    assert r.exit_code == 3 and json.loads(r.stdout)["witness"]["kind"] == "fork"
    assert "subjects" in json.loads(r.stdout)  # the sync itself was done
