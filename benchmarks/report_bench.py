"""DPO report at scale: 1M subjects, 100k consent events, 1,000 training runs on SQLite.

    python benchmarks/report_bench.py [--subjects 1000000] [--consents 100000] [--runs 1000]
                                      [--json OUT]

Generates the records into a fresh SQLite file (compliance/report/synthetic.py), then runs
the real command a DPO runs, `comity report --period 2026-Q3`, once per format, timing
each end to end (process start, migrations check, queries, chain verification, rendering).
Target: under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compliance.database import Database
from compliance.report.period import parse_period
from compliance.report.synthetic import Scale, generate

PERIOD = "2026-Q3"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--consents", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="comity-report-bench-"))
    url = f"sqlite:///{work / 'comity.db'}"
    db = Database(url)
    t0 = time.perf_counter()
    written = generate(db, parse_period(PERIOD), Scale(
        subjects=args.subjects, consent_events=args.consents, runs=args.runs),
        progress=lambda m: print(f"generating {m}", flush=True))
    db.dispose()
    result: dict[str, object] = {"records": written,
                                 "generate_s": round(time.perf_counter() - t0, 1),
                                 "db_mb": round((work / "comity.db").stat().st_size / 2**20, 1)}
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(work / "keys")}
    for fmt in ("json", "html", "pdf"):
        out = work / f"report.{fmt}"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "api.cli", "report", "--period", PERIOD,
                               "--format", fmt, "--out", str(out)], env=env,
                              capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        result[f"{fmt}_s"] = round(time.perf_counter() - t, 2)
        result[f"{fmt}_mb"] = round(out.stat().st_size / 2**20, 2)
        print(f"comity report --format {fmt}: {result[f'{fmt}_s']} s", flush=True)
    report = json.loads((work / "report.json").read_text(encoding="utf-8"))
    result["checklist"] = report["checklist"]["summary"]
    result["audit_events_verified"] = report["audit"]["events"]
    result["target_s"] = 60
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
