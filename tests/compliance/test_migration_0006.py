"""Migration 0006 on a database with data: every existing token gets a principal of its own
(distinct tokens stay distinct people), consent events and open requests learn their
principals from their `role#token` actors, and Idempotency-Keys become per principal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from compliance.database import PROJECT_ROOT

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _migrate(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, revision)


def _check(url: str) -> None:
    _migrate(url, "0005")
    engine = create_engine(url)
    try:
        with engine.begin() as c:
            c.execute(text("INSERT INTO brands (id, name, jurisdiction, created_at) "
                           "VALUES ('brand-a', 'A', 'pipl', :t)"), {"t": NOW})
            c.execute(text("INSERT INTO subjects (brand_id, subject_key, jurisdiction, "
                           "is_minor, guardian_consent, created_at, last_activity_at) VALUES "
                           "('brand-a', 'subject0001', 'pipl', false, false, :t, :t)"),
                      {"t": NOW})
            for tid, role in ((1, "dpo"), (2, "brand:brand-a"), (3, "dpo")):
                c.execute(text("INSERT INTO api_tokens (id, token_sha256, role, label, "
                               "created_at) VALUES (:i, :h, :r, '', :t)"),
                          {"i": tid, "h": f"{tid:064d}", "r": role, "t": NOW})
            for key in ("k1", "k2"):
                c.execute(text(
                    "INSERT INTO consent_events (brand_id, subject_id, purpose, action, "
                    "separate, by_guardian, notice_version, channel, lawful_basis, actor, "
                    "occurred_at, recorded_at, idempotency_key) VALUES ('brand-a', 1, "
                    "'marketing', 'grant', false, false, 'v1', 'app', 'consent', "
                    "'brand:brand-a#2', :t, :t, :k)"), {"t": NOW, "k": key})
            c.execute(text(
                "INSERT INTO subject_requests (id, brand_id, subject_id, type, jurisdiction, "
                "status, received_at, due_at, details, result, idempotency_key) VALUES "
                "('r-1', 'brand-a', 1, 'deletion', 'pipl', 'open', :t, :t, '{}', "
                "'{\"approved_by\": \"dpo#1\"}', 'rk1')"), {"t": NOW})
            c.execute(text(
                "INSERT INTO audit_events (seq, occurred_at, actor, action, data, prev_hash, "
                "hash) VALUES (1, :t, 'brand:brand-a#2', 'request.opened', "
                "'{\"request_id\": \"r-1\"}', :z, :h)"), {"t": NOW, "z": "0" * 64, "h": "1" * 64})
        _migrate(url, "0006")
        with engine.begin() as c:
            principals = c.execute(text(
                "SELECT t.id, p.name, p.kind, p.created_by FROM api_tokens t "
                "JOIN principals p ON p.id = t.principal_id ORDER BY t.id")).all()
            assert [tuple(r) for r in principals] == [
                (1, "token-1", "person", "migration 0006"),
                (2, "token-2", "service", "migration 0006"),
                (3, "token-3", "person", "migration 0006")]
            assert c.execute(text("SELECT DISTINCT principal_id FROM consent_events")
                             ).scalars().all() == [2]
            assert tuple(c.execute(text("SELECT opened_by_id, approved_by_id FROM "
                                        "subject_requests")).one()) == (2, 1)
            # keys are per principal now: another principal may use k1, the same may not
            insert = text(
                "INSERT INTO consent_events (brand_id, subject_id, purpose, action, separate, "
                "by_guardian, notice_version, channel, lawful_basis, actor, occurred_at, "
                "recorded_at, idempotency_key, principal_id) VALUES ('brand-a', 1, "
                "'marketing', 'grant', false, false, 'v1', 'app', 'consent', 'x', :t, :t, "
                "'k1', :p)")
            c.execute(insert, {"t": NOW, "p": 1})
            # a new principal does not collide with the ids given to the old tokens
            c.execute(text("INSERT INTO principals (name, kind, created_by, created_at) "
                           "VALUES ('alice@dpo', 'person', 'test', :t)"), {"t": NOW})
        with pytest.raises(Exception, match="(?i)unique"), engine.begin() as c:
            c.execute(insert, {"t": NOW, "p": 2})
    finally:
        engine.dispose()


@pytest.mark.integration
def test_0006_backfills_principals_on_sqlite(sqlite_url: str) -> None:
    _check(sqlite_url)


@pytest.mark.integration
@pytest.mark.postgres
def test_0006_backfills_principals_on_postgres(postgres_url: str) -> None:
    _check(postgres_url)
