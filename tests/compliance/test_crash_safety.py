"""Crash safety: a unit of work that shreds keys commits the key store first, and a retention
sweep killed midway and run again ends where an uninterrupted one does."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from compliance.retention.service import RetentionService
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService
from privacy.vault.envelope import field_aad, new_data_key, seal, wrap
from privacy.vault.models import SubjectKey, SubjectPii

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _populate(db: Database, n: int) -> None:
    old = utcnow() - timedelta(days=4000)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("b", "B", "pipl", actor="test")
        s.execute(insert(Subject), [{"brand_id": "b", "subject_key": f"s{i:015d}",
                                     "jurisdiction": "pipl", "is_minor": False,
                                     "guardian_consent": False, "created_at": old,
                                     "last_activity_at": old if i % 3 else utcnow()}
                                    for i in range(n)])
        ids = list(s.scalars(select(Subject.id)))
        dk = new_data_key()
        s.execute(insert(SubjectKey), [{"subject_id": i, "wrapped_key": wrap(bytes(32), dk, i),
                                        "master_version": 1, "created_at": old} for i in ids])
        s.execute(insert(SubjectPii), [{"subject_id": i, "field": "phone", "updated_at": old,
                                        "ciphertext": seal(dk, b"x", field_aad(i, "phone"))}
                                       for i in ids])


def _state(db: Database) -> tuple[tuple[str, ...], tuple[int, ...], int, int]:
    with db.reading() as s:
        erased = tuple(s.scalars(select(Subject.subject_key).where(
            Subject.erased_at.is_not(None)).order_by(Subject.subject_key)))
        keys = tuple(s.scalars(select(SubjectKey.subject_id).order_by(SubjectKey.subject_id)))
        pii = int(s.scalar(select(func.count()).select_from(SubjectPii)) or 0)
        evidence = [d for d in s.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "retention.erased"))]
        assert AuditLog(s).verify().verified
    return erased, keys, pii, sum(d["subjects"] for d in evidence)


def test_key_store_commits_before_the_main_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    _populate(db, 10)
    order: list[str] = []
    for name, engine in (("main", db.engine), ("keys", db.key_engine)):
        event.listen(engine, "commit", lambda _c, n=name: order.append(n))
    RetentionService(db, load_policies()).sweep(batch=100)
    assert order[:2] == ["keys", "main"] and set(order) == {"keys", "main"}
    db.dispose()


def test_retention_killed_midway_then_rerun_matches_an_uninterrupted_sweep(
        tmp_path: Path) -> None:
    n = 3000
    control = Database(f"sqlite:///{tmp_path / 'control.db'}")
    _populate(control, n)
    RetentionService(control, load_policies()).sweep(batch=25)
    crashed_url = f"sqlite:///{tmp_path / 'crashed.db'}"
    crashed = Database(crashed_url)
    _populate(crashed, n)
    crashed.dispose()
    code = ("import os, signal\n"
            "from compliance.database import Database\n"
            "from compliance.policy.loader import load_policies\n"
            "from compliance.retention.service import RetentionService\n"
            "seen = [0]\n"
            "def bump(_k, _n):\n"
            "    seen[0] += 1\n"
            "    if seen[0] == 7:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            f"RetentionService(Database('{crashed_url}'), load_policies()).sweep(batch=25, "
            "progress=bump)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    crashed = Database(crashed_url)
    half = _state(crashed)
    assert 0 < len(half[0]) < n  # killed with work left
    RetentionService(crashed, load_policies()).sweep(batch=25)
    assert _state(crashed) == _state(control)
    assert RetentionService(crashed, load_policies()).overdue() == \
        RetentionService(control, load_policies()).overdue()


@pytest.mark.postgres
def test_connection_dropped_mid_transaction_leaves_no_partial_write(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    db = Database(postgres_url)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("b", "B", "pipl", actor="test")
    with db.reading() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with pytest.raises(DBAPIError), db.unit_of_work() as s:
        s.execute(insert(Subject), [{"brand_id": "b", "subject_key": "s000000000000001",
                                     "jurisdiction": "pipl", "is_minor": False,
                                     "guardian_consent": False}])
        AuditLog(s).record("subject.created", actor="test", data={"n": 1})
        pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Subject)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before
        assert AuditLog(s).verify().verified
    admin.dispose()
    db.dispose()
