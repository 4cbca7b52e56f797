"""Compliance-core benchmarks against the real server and database, in one run.

    python benchmarks/compliance_bench.py [--rate 200] [--seconds 60] [--json OUT]

1. Consent writes: `comity serve` on loopback (embedded SQLite, or `--database-url`), an
   open-loop load of `rate` requests/s for `seconds`, each with its own Idempotency-Key and
   10% of them sent twice on purpose; afterwards the events are counted: no accepted one
   lost, none duplicated; refusals (503 with Retry-After) are counted apart, and the
   server's CPU seconds per request are read from /proc (steadier than latency on a shared
   machine).
2. `audit verify` throughput over 200,000 events.
3. Retention sweep throughput over 100,000 expired subjects with encrypted PII.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from server import api_server, tree_cpu_seconds  # benchmarks/server.py, beside this one
from sqlalchemy import func, insert, select

from compliance.audit.service import AuditLog
from compliance.consent.models import ConsentEvent
from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from compliance.retention.service import RetentionService
from compliance.subjects.models import Subject
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from privacy.vault.envelope import field_aad, new_data_key, seal, wrap
from privacy.vault.models import SubjectKey, SubjectPii

WARMUP = 50


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


class _Http:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams. httpx's async client spent
    more CPU per request than the server under test; this one spends tens of microseconds."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, extra: dict[str, str]) -> tuple[int, bytes]:
        """A kept-alive connection the server has since closed fails at once; like any HTTP
        client, send again on a fresh one (safe here: every request has an Idempotency-Key)."""
        while self.idle:
            try:
                return await self._send(self.idle.pop(), path, body, extra)
            except (OSError, asyncio.IncompleteReadError):
                continue
        return await self._send(await asyncio.open_connection(self.host, self.port), path,
                                body, extra)

    async def _send(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str,
                    body: bytes, extra: dict[str, str]) -> tuple[int, bytes]:
        reader, writer = conn
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
                + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        writer.write(head.encode() + body)
        raw = await reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await reader.readexactly(length)
        self.idle.append(conn)
        return status, payload

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _open_loop(port: int, token: str, rate: int, total: int, retried: set[int],
                     latencies: list[float], errors: list[str],
                     timeline: list[tuple[float, float]], accepted: set[str]) -> float:
    """Open-loop load from one asyncio thread: request i is sent at start + i/rate whatever
    happened to earlier ones, and its latency runs from that scheduled time to the response
    (a thread pool in this process measured its own GIL queueing, not the server)."""
    http = _Http("127.0.0.1", port, {"Authorization": f"Bearer {token}"})
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def send(i: int) -> None:
        body = json.dumps({"brand_id": "bench", "subject": f"subj{i % 5000:012d}",
                           "purpose": "model_training",
                           "action": "grant" if i % 3 else "withdraw",
                           "notice_version": "2026-01"}).encode()
        for attempt in range(2 if i in retried else 1):
            t0 = start + i / rate if attempt == 0 else loop.time()
            try:
                status, text = await http.post("/v1/consents", body,
                                               {"Idempotency-Key": f"bench-{i}"})
                ok = status == (201 if attempt == 0 else 200)
                msg = "" if ok else f"{status} {text[:80]!r}"
            except (OSError, asyncio.IncompleteReadError) as exc:
                msg = type(exc).__name__
            latencies.append(loop.time() - t0)
            timeline.append((t0 - start, latencies[-1]))
            if msg:
                errors.append(msg)
            else:
                accepted.add(f"bench-{i}")

    warm = _Http("127.0.0.1", http.port, {"Authorization": f"Bearer {token}"})
    for i in range(WARMUP):  # compile caches and first connections, outside the measurement
        await warm.post("/v1/consents", json.dumps({
            "brand_id": "bench", "subject": f"warm{i:012d}", "purpose": "model_training",
            "action": "grant", "notice_version": "2026-01"}).encode(),
            {"Idempotency-Key": f"warm-{i}"})
    warm.close()
    start = loop.time()
    tasks = []
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    http.close()
    return loop.time() - start


def consent_load(work: Path, rate: int, seconds: int, workers: int,
                 url: str | None = None) -> dict[str, Any]:
    url = url or f"sqlite:///{work / 'load.db'}"
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(work / "keys")}
    db = Database(url)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("bench", "Bench", "pipl", actor="bench")
        token = TokenService(s).create("brand:bench", principal="bench-node")
    with api_server(env, workers) as (_, port):
        total = rate * seconds
        rng = random.Random(1)
        retried = set(rng.sample(range(total), total // 10))
        latencies: list[float] = []
        errors: list[str] = []
        cpu0 = time.process_time()
        pid = int(os.environ["COMITY_BENCH_SERVER_PID"])
        server_cpu0 = tree_cpu_seconds(pid)
        timeline: list[tuple[float, float]] = []
        accepted: set[str] = set()
        elapsed = asyncio.run(_open_loop(port, token, rate, total, retried, latencies, errors,
                                         timeline, accepted))
        client_cpu = time.process_time() - cpu0
        server_cpu = tree_cpu_seconds(pid) - server_cpu0
    with db.unit_of_work() as s:
        stored = int(s.scalar(select(func.count()).select_from(ConsentEvent)) or 0)
        keys = int(s.scalar(select(func.count(func.distinct(ConsentEvent.idempotency_key))))
                   or 0)
        stored_keys = set(s.scalars(select(ConsentEvent.idempotency_key)))
    db.dispose()
    return {"rate_target": rate, "seconds": seconds, "workers": workers,
            "load_generator_cpu_s": round(client_cpu, 1), "requests_sent": len(latencies),
            "server_cpu_s": round(server_cpu, 2),
            "server_cpu_ms_per_request": round(1000 * server_cpu / max(1, len(latencies)), 3),
            "refused_503": sum(e.startswith("503") for e in errors),
            "achieved_rps": round(total / elapsed, 1),
            "p50_ms": round(pct(latencies, 0.5) * 1000, 2),
            "p99_ms": round(pct(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2), "errors": len(errors),
            "p99_ms_per_10s": [round(pct([lat for t, lat in timeline if k <= t < k + 10], 0.99)
                                     * 1000, 1) for k in range(0, seconds, 10)],
            "error_examples": errors[:3], "distinct_events_expected": total,
            "warmup_requests": WARMUP, "events_stored": stored - WARMUP,
            "distinct_keys_stored": keys - WARMUP,
            "accepted": len(accepted), "lost": len(accepted - stored_keys),
            "refused_then_not_written": total - len(accepted) - (keys - WARMUP - len(accepted)),
            "duplicated": stored - keys}


def audit_verify(work: Path, n: int = 200_000) -> dict[str, Any]:
    db = Database(f"sqlite:///{work / 'audit.db'}")
    with db.unit_of_work() as s:
        AuditLog(s).record_many([("consent.grant", {"event_id": i, "subject": f"{i:032x}",
                                                    "purpose": "model_training"}, "b", None)
                                 for i in range(n)], actor="bench")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        with db.unit_of_work() as s:
            res = AuditLog(s).verify()
        best = min(best, time.perf_counter() - t0)
    db.dispose()
    return {"events": res.events, "verified": res.verified,
            "events_per_s": round(res.events / best)}


def retention(work: Path, n: int = 100_000) -> dict[str, Any]:
    os.environ["COMITY_KEY_DIR"] = str(work / "keys")
    db = Database(f"sqlite:///{work / 'retention.db'}")
    master = bytes(32)
    old = utcnow() - timedelta(days=4000)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("bench", "Bench", "pipl", actor="bench")
        s.execute(insert(Subject), [{"brand_id": "bench", "subject_key": f"s{i:015d}",
                                     "jurisdiction": "pipl", "is_minor": False,
                                     "guardian_consent": False, "created_at": old,
                                     "last_activity_at": old} for i in range(n)])
        ids = list(s.scalars(select(Subject.id)))
        dk = new_data_key()
        s.execute(insert(SubjectKey), [{"subject_id": i, "wrapped_key": wrap(master, dk, i),
                                        "master_version": 1, "created_at": old} for i in ids])
        s.execute(insert(SubjectPii), [{"subject_id": i, "field": "phone", "updated_at": old,
                                        "ciphertext": seal(dk, b"13800000000",
                                                           field_aad(i, "phone"))}
                                       for i in ids])
    svc = RetentionService(db, load_policies(), actor="bench")
    t0 = time.perf_counter()
    report = svc.sweep(batch=10_000)
    dt = time.perf_counter() - t0
    again = svc.sweep()
    out = {"records": report.total, "seconds": round(dt, 2),
           "records_per_s": round(report.total / dt), "second_run_actions": again.total,
           "still_overdue": svc.overdue()}
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2, help="API worker processes")
    ap.add_argument("--database-url", help="an empty database for the consent load "
                    "(default: a fresh SQLite file)")
    ap.add_argument("--only", choices=["consent"], help="run the consent load alone")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        result = {"consent_writes": consent_load(work, args.rate, args.seconds, args.workers,
                                                 args.database_url)}
        if args.only is None:
            result |= {"audit_verify": audit_verify(work), "retention_sweep": retention(work)}
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
