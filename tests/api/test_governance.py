"""/v1/governance and the governance commands: the agreement, an assessment approved only by
a second person, a transfer refused past its band with the rule id, an incident's notice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from compliance.database import Database

Auth = Callable[..., dict[str, str]]
pytestmark = pytest.mark.integration


def test_agreement_assessment_transfer_incident(client: TestClient, auth: Auth) -> None:
    author, dpo = auth("dpo", "author@dpo"), auth("dpo", "second@dpo")
    ag = client.get("/v1/governance/agreement", headers=dpo).json()
    assert ag["version"] == "2026.1" and {p["role"] for p in ag["parties"]} == {
        "joint_handler", "entrusted_processor"}
    r = client.post("/v1/governance/assessments", headers=author,
                    json={"purpose": "personalized_recommendation"})
    assert r.status_code == 201, r.text
    pia = r.json()
    assert pia["triggers"] == ["pia.art55_2.automated_decision"]
    assert client.post(f"/v1/governance/assessments/{pia['id']}/approve",
                       headers=author).status_code == 409
    ok = client.post(f"/v1/governance/assessments/{pia['id']}/approve", headers=dpo)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    over = client.post("/v1/governance/transfers", headers=dpo, json={
        "handler": "lumen-tea", "recipient": "HQ", "country": "SG", "individuals": 150_000})
    assert over.status_code == 403
    assert over.json()["rule_id"] == "cross_border.provisions_art8.over_100k"
    inc = client.post("/v1/governance/incidents", headers=dpo, json={
        "summary": "lost laptop", "affected": {"brand-a": {"pipl": 4}},
        "possible_harm": "fraud"}).json()
    assert inc["deadlines"]["pipl"]["rule_id"] == "incident.pipl_art57.notify"
    notice = client.get(f"/v1/governance/incidents/{inc['id']}/notice?lang=zh", headers=dpo)
    assert "可能造成的危害: fraud" in notice.text
    assert client.get("/v1/governance/incidents", headers=auth("brand:brand-a")
                      ).status_code == 403


def test_cli_draft_approve_and_refused_transfer(db: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("COMITY_DATABASE_URL", db.url)
    from api.composition import default_services
    default_services.cache_clear()  # type: ignore[attr-defined]
    run = CliRunner().invoke
    out = run(cli, ["assessment", "draft", "--purpose", "marketing", "--principal", "bob@ops"])
    assert out.exit_code == 0, out.output
    pia = json.loads(out.stdout)["id"]
    same = run(cli, ["assessment", "approve", pia, "--principal", "bob@ops"])
    assert same.exit_code == 2 and "other than its author" in same.output
    assert run(cli, ["assessment", "approve", pia, "--principal", "alice@dpo"]).exit_code == 0
    refused = run(cli, ["transfer", "record", "--handler", "jade-beauty", "--recipient", "HQ",
                        "--country", "SG", "--individuals", "200000"])
    assert refused.exit_code == 2 and "cross_border.provisions_art8.over_100k" in refused.output
    assert run(cli, ["agreement", "show"]).exit_code == 0


def test_failed_verification_opens_one_incident(db: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import sqlite3

    from compliance.audit.service import AuditLog

    with db.unit_of_work() as s:
        AuditLog(s).record("test.event", actor="t", data={"n": 1})
        AuditLog(s).record("test.event", actor="t", data={"n": 2})
    db.dispose()
    con = sqlite3.connect(db.url.removeprefix("sqlite:///"))
    con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    monkeypatch.setenv("COMITY_DATABASE_URL", db.url)
    from api.composition import default_services
    default_services.cache_clear()  # type: ignore[attr-defined]
    run = CliRunner().invoke
    first = run(cli, ["audit", "verify"])
    assert first.exit_code == 1 and "incident" in first.output
    assert run(cli, ["audit", "verify"]).exit_code == 1
    listed = json.loads(run(cli, ["incident", "list"]).stdout)
    assert [i["source"] for i in listed] == ["audit_verification"]
    assert set(listed[0]["deadlines"]) == {"pipl", "gdpr", "ccpa"}


def test_keys_rotate_compromised_opens_an_incident(db: Database,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("COMITY_DATABASE_URL", db.url)
    from api.composition import default_services
    default_services.cache_clear()  # type: ignore[attr-defined]
    run = CliRunner().invoke
    plain = run(cli, ["keys", "rotate"])
    assert plain.exit_code == 0 and "incident_id" not in plain.stdout
    out = run(cli, ["keys", "rotate", "--compromised", "--reason", "backup tape lost"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    listed = json.loads(run(cli, ["incident", "list"]).stdout)
    assert [(i["id"], i["source"]) for i in listed] == [(body["incident_id"], "key_compromise")]
