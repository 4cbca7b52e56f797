"""A brand imports its CRM's consent export through the API: checked whole first (file, line,
column; never the value), pseudonymized at the brand, idempotent, then synced back so that the
brand's own snapshot matches the coordinator's."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from compliance.consent.models import ConsentEvent
from compliance.consent.service import ConsentService
from compliance.consent.state import snapshot_digest
from compliance.database import Database
from compliance.errors import InputError
from compliance.policy.loader import load_policies
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from federation.brand.consent_import import ConsentExportMap, import_consents, prepare_import
from federation.brand.node import BrandNode, load_node
from federation.brand.provision import init_node

pytestmark = pytest.mark.integration
MAP = {"subject": "cid", "purpose": "purpose", "action": "what", "occurred_at": "at",
       "separate": "sep", "by_guardian": "guardian", "birth_date": "born",
       "actions": {"opt-in": "grant", "opt-out": "withdraw"},
       "defaults": {"notice_version": "2026-01"}}
ROWS = [
    {"cid": "C1", "purpose": "model_training", "what": "opt-in", "at": "2026-03-01T10:00:00Z",
     "sep": "no", "guardian": "no", "born": "1990-01-01"},
    {"cid": "C1", "purpose": "model_training", "what": "opt-out",
     "at": "2026-05-01T10:00:00Z", "sep": "no", "guardian": "no", "born": "1990-01-01"},
    {"cid": "C2", "purpose": "cross_brand_sharing", "what": "opt-in",
     "at": "2026-03-02T10:00:00Z", "sep": "yes", "guardian": "no", "born": "1985-02-02"},
    {"cid": "K1", "purpose": "model_training", "what": "opt-in", "at": "2026-03-03T10:00:00Z",
     "sep": "no", "guardian": "yes", "born": "2016-04-04"},
]


def _node(db: Database, tmp_path: Path, api_url: str, brand: str = "crm-brand") -> BrandNode:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand(brand, "CRM Brand", "pipl", actor="test")
        token = TokenService(s).create(f"brand:{brand}", principal=f"{brand}-node")
    path = init_node(tmp_path / brand, brand_id=brand, jurisdiction="pipl", api=api_url,
                     token=token)
    (tmp_path / brand / "silo" / "column_map.yaml").write_text("brand_id: x\n")
    (tmp_path / brand / "crm" / "consent_map.yaml").write_text(json.dumps(MAP))
    return load_node(str(path))


def _export(path: Path, rows: list[dict[str, str]]) -> str:
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_import_is_pseudonymized_idempotent_and_synced(db: Database, tmp_path: Path,
                                                       api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    source = _export(tmp_path / "crm.csv", ROWS)
    first = import_consents(node, source=source)
    assert (first.created, first.replayed, first.subjects, first.minors) == (4, 0, 3, 1)
    again = import_consents(node, source=source)
    assert (again.created, again.replayed) == (0, 4)  # nothing twice
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 4
        keys = set(s.scalars(select(ConsentEvent.subject_id)))
        at = datetime(2026, 6, 1, tzinfo=UTC)
        theirs = ConsentService(s).snapshot(node.brand_id, "model_training", at)
    assert len(keys) == 3
    assert not {"C1", "C2", "K1"} & set(theirs)  # only pseudonyms reached the coordinator
    assert node.pseudonymizer("C1") in theirs
    assert theirs[node.pseudonymizer("K1")].is_minor  # derived at the brand, flag only
    mine = node.store.snapshot("model_training", at)
    assert snapshot_digest(mine) == snapshot_digest(theirs)
    assert mine[node.pseudonymizer("C1")].state.value == "withdrawn"


def test_one_bad_row_sends_nothing_and_names_only_where(db: Database, tmp_path: Path,
                                                        api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    bad = [*ROWS,
           {**ROWS[0], "cid": "13812345678", "what": "maybe"},  # unknown action
           {**ROWS[0], "at": "last tuesday"},
           {**ROWS[2], "sep": "no"},  # separate consent needed (PIPL Art. 23)
           {**ROWS[3], "guardian": "no"},  # a child's own consent (PIPL Art. 31)
           {**ROWS[0], "sep": "perhaps"}]
    with pytest.raises(InputError) as exc:
        import_consents(node, source=_export(tmp_path / "bad.csv", bad))
    msg = exc.value.message
    assert "5 bad rows, nothing imported" in msg
    for line, column in ((6, "what"), (7, "at"), (8, "sep"), (9, "guardian"), (10, "sep")):
        assert f"bad.csv:{line}:{column}" in msg
    assert "13812345678" not in msg and "maybe" not in msg and "last tuesday" not in msg
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_missing_columns_and_a_node_config_without_a_silo_are_located(
        db: Database, tmp_path: Path, api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    with pytest.raises(InputError, match=r"crm\.csv:1: columns named in the consent map"):
        import_consents(node, source=_export(tmp_path / "crm.csv", [{"cid": "C1"}]))
    config = node.config.source
    (config.parent / "silo" / "column_map.yaml").unlink()
    load_node.cache_clear()
    with pytest.raises(InputError, match=r"brand\.toml:silo\.dir: silo directory"):
        load_node(str(config))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]),
                          st.sampled_from(["opt-in", "opt-out", "refuse"]),
                          st.integers(0, 10**6)), min_size=1, max_size=12))
def test_event_keys_are_stable_and_distinct(rows: list[tuple[str, str, int]]) -> None:
    """The same export gives the same idempotency keys (a re-import adds nothing); two
    different events never share one (none is lost)."""
    frame = [{"cid": c, "purpose": "marketing", "what": a,
              "at": datetime.fromtimestamp(1.7e9 + t, UTC).isoformat(), "sep": "no",
              "guardian": "no", "born": "1990-01-01"} for c, a, t in rows]
    with tempfile.TemporaryDirectory() as d:
        source = _export(Path(d) / "x.csv", frame)

        def keys() -> list[str]:
            return [e["idempotency_key"] for e in prepare_import(
                source, ConsentExportMap.model_validate(MAP), brand_id="b",
                jurisdiction="pipl", policies=load_policies(),
                pseudonym=lambda v: f"pseudo{v}xxxxxxxx").events]

        first, second = keys(), keys()
    assert first == second
    assert len(set(first)) == len({(c, a, t) for c, a, t in rows})


def _many(n: int) -> list[dict[str, str]]:
    return [{"cid": f"C{i % 97}", "purpose": "model_training", "what": "opt-in",
             "at": f"2026-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "sep": "no",
             "guardian": "no", "born": "1990-01-01"} for i in range(n)]


def test_a_bad_row_deep_in_a_chunked_export_sends_nothing(db: Database, tmp_path: Path,
                                                          api_url: str) -> None:
    """Streamed in chunks, the whole export is still checked before the first chunk is sent:
    a bad row in the last chunk leaves the coordinator's records (and the node's) untouched,
    and its line is the file's line."""
    node = _node(db, tmp_path, api_url)
    rows = _many(1200)
    rows[1100] = {**rows[1100], "at": "not a time"}
    with pytest.raises(InputError) as exc:
        import_consents(node, source=_export(tmp_path / "big.csv", rows), chunk_rows=250)
    assert "1 bad rows, nothing imported" in exc.value.message
    assert "big.csv:1102:at" in exc.value.message
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 0
    assert node.store.counts() == (0, 0)


def test_a_chunked_import_is_idempotent_and_reports_progress(db: Database, tmp_path: Path,
                                                             api_url: str) -> None:
    node = _node(db, tmp_path, api_url)
    source = _export(tmp_path / "big.csv", _many(1200))
    seen: list[tuple[int, int]] = []
    first = import_consents(node, source=source, chunk_rows=500,
                            progress=lambda done, of: seen.append((done, of)))
    assert (first.rows, first.created, first.replayed, first.subjects) == (1200, 1200, 0, 97)
    assert seen == [(500, 1200), (1000, 1200), (1200, 1200)]
    again = import_consents(node, source=source, chunk_rows=300)
    assert (again.created, again.replayed, again.synced_events) == (0, 1200, 1200)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 1200


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 4 * 10**9).map(lambda s: s * 10**9),
                          st.integers(0, 4 * 10**18)), min_size=1, max_size=20))
def test_times_keep_the_text_keys_were_made_from(nanos: list[int]) -> None:
    """Keys hash each event's time as `Timestamp.isoformat()`; the column-wise rendering
    gives that text exactly (whole seconds, micro- and nanoseconds), so a re-import of an
    export imported before stays recognised."""
    from federation.brand.consent_import import _iso

    when = pd.Series(pd.to_datetime(nanos, unit="ns", utc=True))
    assert _iso(when) == [t.isoformat() for t in when]
