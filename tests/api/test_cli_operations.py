"""`comity audit trace` and `comity customer lookup` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.composition import default_services
from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from privacy.vault.service import Vault


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    default_services.cache_clear()
    services = default_services()
    try:
        r = CliRunner().invoke(app, list(args), env=env)
        return r.exit_code, r.output
    finally:
        if "db" in services.__dict__:
            services.db.dispose()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    u = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("COMITY_DATABASE_URL", u)
    monkeypatch.delenv("COMITY_KEYSTORE_URL", raising=False)
    return u


def test_audit_trace_by_subject_and_bad_input(url: str) -> None:
    db = Database(url)
    with db.unit_of_work() as s:
        AuditLog(s).record("gate.decision", actor="brand:a", rule_id="pipl.consent",
                           data={"run_id": "r1", "subject": "p-1", "purpose": "model_training"})
    db.dispose()
    code, out = _run("audit", "trace", "--subject", "p-1")
    assert code == 0, out
    found = json.loads(out)
    assert found["count"] == 1 and found["events"][0]["rule_id"] == "pipl.consent"
    code, out = _run("audit", "trace", "--subject", "p-1", "--run", "r1")
    assert code != 0 and "exactly one" in out
    code, out = _run("audit", "trace", "--run", "r1", "--since", "seven days")
    assert code != 0 and "since" in out


def test_customer_lookup_with_a_staff_token_is_masked(url: str) -> None:
    db = Database(url)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("acme", "Acme", "pipl", actor="test")
        subj = Subject(brand_id="acme", subject_key="k-42")
        s.add(subj)
        s.flush()
        Vault(s).put(subj.id, {"phone": "13812345678"})
        token = TokenService(s).create("brand:acme:staff", principal="li")
    db.dispose()
    code, out = _run("customer", "lookup", "acme", "k-42", env={"COMITY_TOKEN": token})
    assert code == 0, out
    assert json.loads(out)["fields"][0]["value"] == "138****5678"
    assert "13812345678" not in out


def test_ltv_fit_reports_holdout_error(tmp_path: Path) -> None:
    from tests.federation.data.test_ltv import simulate

    path = tmp_path / "orders.csv"
    simulate(400, 540, seed=5).to_csv(path, index=False)
    out = tmp_path / "ltv.csv"
    code, text = _run("ltv", "fit", "--orders", str(path), "--cutoff", "2024-12-01",
                      "--horizon-days", "120", "--out", str(out))
    assert code == 0, text
    report = json.loads(text)
    assert report["holdout"]["mae"] >= 0 and report["bg_nbd"]["r"] > 0
    assert out.read_text().startswith("customer_id,")
    code, text = _run("ltv", "fit", "--orders", str(path), "--cutoff", "2024-12-01",
                      "--amount-col", "spend")
    assert code != 0 and "spend" in text
