"""Property-based requests generated from our OpenAPI contract by Schemathesis: whatever a
client sends that the schema admits (and much it does not), the API answers without a 5xx.

Driven through Hypothesis directly: Schemathesis' own pytest plugin does not load under
pytest 9 (`'Function' object has no attribute '_nodeid'`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from compliance.database import Database
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = 50


def test_no_server_errors_from_generated_requests(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'comity.db'}")
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("brand-a", "Brand A", "pipl", actor="test")
        tokens = {role: TokenService(s).create(role, principal=f"{role}-1")
                  for role in ("dpo", "admin")}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db))
    failures: list[str] = []
    ran: dict[str, int] = {}
    def fuzz(op: schemathesis.APIOperation) -> None:
        name = f"{op.method.upper()} {op.path}"
        ran[name] = 0
        role = "admin" if name == "POST /v1/consents" else "dpo"

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def probe(case: schemathesis.Case) -> None:
            ran[name] += 1
            response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
            if response.status_code >= 500:
                failures.append(f"{name} {case.body!r} -> {response.status_code} "
                                f"{response.text[:200]}")

        probe()

    for result in schema.get_all_operations():
        fuzz(result.ok())  # type: ignore[union-attr]
    db.dispose()
    assert len(ran) >= 15 and all(n > 0 for n in ran.values()), ran
    assert not failures, failures[:5]
    print(f"schemathesis: {sum(ran.values())} generated requests over {len(ran)} operations")
