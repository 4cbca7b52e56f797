"""The 7-day trace on a large audit log: build an N-event hash-chained log (SQLite, default
1,000,000 events over 14 days: consent events, per-subject gate decisions of many runs,
aggregate releases, staff lookups) and time `comity audit trace` by subject, run and actor.

    nice -n 10 python benchmarks/trace_bench.py [--events 1000000] [--db /tmp/trace.db] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from compliance.audit.chain import GENESIS_HASH, hash_parts
from compliance.audit.models import AuditEvent
from compliance.audit.service import AuditLog
from compliance.audit.trace import TraceService
from compliance.canonical import canonical_json
from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies


def build(db: Database, path: Path, events: int, subjects: int, seed: int = 0) -> None:
    """Append `events` chained events over the last 14 days straight through sqlite3 (the
    ORM path appends ~500 events/s here, too slow for a 1M-event log), hashed exactly as
    `AuditLog.record_many` hashes them, with every index of the schema in place."""
    rng = random.Random(seed)
    now = utcnow()
    with db.reading() as s:
        head = s.execute(select(AuditEvent.seq, AuditEvent.hash)
                         .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    con = sqlite3.connect(path)
    sql = ("INSERT INTO audit_events (seq, occurred_at, actor, action, brand_id, rule_id, "
           "data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    start, total = seq, seq + events
    while seq < total:
        rows = []
        for _ in range(min(50_000, total - seq)):
            seq += 1
            at = now - timedelta(days=14) + timedelta(days=14) * ((seq - start) / events)
            b = rng.randrange(3)
            brand: str | None
            brand, subject, kind = f"brand-{b}", f"s{rng.randrange(subjects):07d}", rng.random()
            if kind < 0.6:
                action, actor, rule = "gate.decision", f"brand:{brand}", "pipl.consent"
                data: dict[str, Any] = {"run_id": f"run-{rng.randrange(200):04d}",
                                        "subject": subject, "purpose": "model_training",
                                        "allowed": rng.random() < 0.9}
            elif kind < 0.9:
                action, actor, rule = "consent.grant", f"brand:{brand}#{b + 1}", None
                data = {"subject": subject, "purpose": "marketing", "event_id": seq}
            else:
                action, actor, rule, brand = ("aggregate.release", "service:crm#9",
                                              "aggregates.ok", None)
                data = {"requester": "service:crm", "dataset": "rfm", "epsilon": 0.1,
                        "query_sha256": f"{seq:064x}"}
            body = canonical_json(data)
            h = hash_parts(prev, seq, at.isoformat(), actor, action, brand, rule, body)
            rows.append((seq, at.strftime("%Y-%m-%d %H:%M:%S.%f"), actor, action, brand, rule,
                         body, prev, h))
            prev = h
        with con:
            con.executemany(sql, rows)
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=200_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/trace_bench.db"))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    url = f"sqlite:///{a.db}"
    db = Database(url)
    t0 = time.perf_counter()
    with db.reading() as s:
        have = AuditLog(s).count()
    if have < a.events:
        build(db, a.db, a.events - have, a.subjects)
    build_s = time.perf_counter() - t0
    policies = load_policies()
    rng = random.Random(1)
    timings: dict[str, list[float]] = {"subject": [], "run": [], "actor": []}
    counts: dict[str, list[int]] = {k: [] for k in timings}
    with db.reading() as s:
        svc = TraceService(s, policies.purpose_categories())
        for _ in range(20):
            for by, value in (("subject", f"s{rng.randrange(a.subjects):07d}"),
                              ("run", f"run-{rng.randrange(200):04d}"),
                              ("actor", rng.choice(["brand:brand-0#1", "service:crm",
                                                    "brand:brand-2"]))):
                t = time.perf_counter()
                tr = svc.trace(by, value, since="7d", limit=1000)  # type: ignore[arg-type]
                timings[by].append((time.perf_counter() - t) * 1000)
                counts[by].append(len(tr.lines))
        total = AuditLog(s).count()
    out = {"events": total, "build_seconds": round(build_s, 1),
           "note": "shared 2-core machine, nice -n 10; limit 1000 events per trace",
           **{by: {"median_ms": round(statistics.median(v), 2), "max_ms": round(max(v), 2),
                   "median_events": statistics.median(counts[by])}
              for by, v in timings.items()}}
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text)


if __name__ == "__main__":
    main()
