"""Bulk consent import (`comity consent import`, issue 24): events/s and peak RSS from a
synthetic CRM export of N rows, through the real path (brand-side checks and
pseudonymization, the coordinator's batch endpoint over loopback on SQLite, the sync back
into the node's store), optionally under cProfile.

    nice -n 10 python benchmarks/consent_import_bench.py --rows 1000000 --json OUT.json
    python benchmarks/consent_import_bench.py --rows 20000 --profile /tmp/import.prof
    python benchmarks/consent_import_bench.py --rows 1000000 --prepare-only

`--prepare-only` times the brand side alone (read, check, pseudonymize: no API).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import pstats
import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService

MAP = {"subject": "cid", "purpose": "purpose", "action": "what", "occurred_at": "at",
       "separate": "sep", "by_guardian": "guardian", "birth_date": "born",
       "actions": {"opt-in": "grant", "opt-out": "withdraw"},
       "defaults": {"notice_version": "2026-01"}}
PURPOSES = ("marketing", "model_training", "cross_brand_sharing")
TODAY = date(2026, 6, 1)


def write_export(path: Path, rows: int, *, seed: int = 0) -> Path:
    """A CRM export of `rows` consent rows over rows // 3 customers, adults only, every row
    valid (a grant for a purpose that needs separate consent carries it)."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    customers = max(1, rows // 3)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["cid", "purpose", "what", "at", "sep", "guardian", "born"])
        for i in range(rows):
            c = rng.randrange(customers)
            out.writerow([f"CRM{c:08d}", PURPOSES[i % 3], rng.choice(("opt-in", "opt-out")),
                          (start + timedelta(seconds=i * 7)).isoformat(), "yes", "no",
                          f"{1960 + c % 40}-0{1 + c % 9}-1{c % 10}"])
    return path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(rows: int, work: Path, *, prepare_only: bool, profile: Path | None) -> dict[str, object]:
    from federation.brand.consent_import import ConsentExportMap, import_consents, prepare_import
    from federation.brand.node import load_node
    from federation.brand.provision import init_node

    export = write_export(work / "crm.csv", rows)
    rss_before = peak_rss_mib()
    prof = cProfile.Profile() if profile else None
    if prepare_only:
        policies = load_policies()
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        prepared = prepare_import(str(export), ConsentExportMap.model_validate(MAP),
                                  brand_id="bench", jurisdiction="pipl", policies=policies,
                                  pseudonym=lambda v: f"pseudo{v}xxxxxxxx", today=TODAY)
        n = sum(len(chunk) for chunk in prepared.chunks())
        seconds = time.perf_counter() - t0
        created = n
    else:
        from api.local_server import LocalApi

        db = Database(f"sqlite:///{work / 'coordinator.db'}")
        with db.unit_of_work() as s:
            SubjectService(s).register_brand("bench", "Bench", "pipl", actor="bench")
            token = TokenService(s).create("brand:bench", principal="bench-node")
        with LocalApi(db) as api:
            path = init_node(work / "node", brand_id="bench", jurisdiction="pipl",
                             api=api.url, token=token)
            (work / "node" / "silo" / "column_map.yaml").write_text("brand_id: x\n")
            (work / "node" / "crm" / "consent_map.yaml").write_text(json.dumps(MAP))
            node = load_node(str(path))
            t0 = time.perf_counter()
            if prof:
                prof.enable()
            report = import_consents(node, source=str(export), today=TODAY)
            seconds = time.perf_counter() - t0
            created = report.created
        db.dispose()
    if prof and profile:
        prof.disable()
        prof.dump_stats(str(profile))
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(25)
    return {"rows": rows, "created": created, "seconds": round(seconds, 2),
            "events_per_s": round(rows / seconds), "peak_rss_mib": round(peak_rss_mib()),
            "rss_before_import_mib": round(rss_before), "prepare_only": prepare_only}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="consent-import-") as d:
        result = run(args.rows, Path(d), prepare_only=args.prepare_only, profile=args.profile)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
