"""Cross-brand PSI benchmark (issue 26): the DH-PSI of `privacy.overlap.psi` between two
parties, each in its own process (as two brand nodes are), streamed in chunks through files
so that memory stays flat in the set size.

    nice -n 10 python benchmarks/psi_bench.py [--sizes 100000,1000000] [--shared 0.3] [--json OUT]

Per size: both parties hash and blind their own keys, then blind the other's points (in
parallel, one core each), and the relay counts the common doubly blinded points. Reported:
wall time, CPU seconds per party, elements per second per core (points blinded per CPU
second), the bytes each party sends (32 per point per direction), each process's peak memory
(max RSS), and that the size found equals the plain intersection; and the cardinality
mode's error from its DP noise at each `--epsilons` value. Keys are synthetic E.164
numbers (normalization is not timed: it runs once per customer at the brand's gate).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from privacy.overlap.psi import CHUNK, POINT_BYTES, Blinder, intersection_size, points
from privacy.overlap.release import noisy_size

RUN = "bench-run"


def _keys(party: int, n: int, shared: int, start: int, stop: int) -> list[str]:
    """Party 0 holds numbers 0..n-1, party 1 holds n-shared..2n-shared-1: `shared` common."""
    base = 0 if party == 0 else n - shared
    return [f"+86138{base + i:08d}" for i in range(start, stop)]


def _open(path: Path, n: int) -> np.memmap[Any, Any]:
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, POINT_BYTES))


def _blind_own(party: int, n: int, shared: int, out: Path, pos: int) -> None:
    k = Blinder.derive(bytes([party + 1]) * 32, RUN)
    dst = _open(out, n)
    with tqdm(total=n, desc=f"party {'AB'[party]} blinds its own", position=pos,
              unit="pt", unit_scale=True, file=sys.stderr, leave=False) as bar:
        for i in range(0, n, CHUNK):
            j = min(n, i + CHUNK)
            dst[i:j] = k.blind_keys(_keys(party, n, shared, i, j))
            bar.update(j - i)
    dst.flush()


def _reblind(party: int, src: Path, out: Path, pos: int) -> None:
    k = Blinder.derive(bytes([party + 1]) * 32, RUN)
    theirs = np.load(src, mmap_mode="r")
    n = len(theirs)
    dst = _open(out, n)
    with tqdm(total=n, desc=f"party {'AB'[party]} reblinds the other's", position=pos,
              unit="pt", unit_scale=True, file=sys.stderr, leave=False) as bar:
        for i in range(0, n, CHUNK):
            j = min(n, i + CHUNK)
            dst[i:j] = k.blind(points(np.asarray(theirs[i:j])))
            bar.update(j - i)
    dst.flush()


def _party(party: int, n: int, shared: int, tmp: str, barrier: Any, q: Any) -> None:
    d = Path(tmp)
    t0 = time.process_time()
    _blind_own(party, n, shared, d / f"{party}-own.npy", party)
    barrier.wait()  # the relay has both parties' points
    _reblind(party, d / f"{1 - party}-own.npy", d / f"{1 - party}-double.npy", party)
    q.put({"party": "AB"[party], "cpu_s": time.process_time() - t0,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "points_blinded": 2 * n, "bytes_sent": 2 * n * POINT_BYTES})


def run(n: int, shared_frac: float) -> dict[str, Any]:
    shared = int(n * shared_frac)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        barrier, q = ctx.Barrier(2), ctx.Queue()
        t0 = time.perf_counter()
        procs = [ctx.Process(target=_party, args=(p, n, shared, tmp, barrier, q))
                 for p in (0, 1)]
        for p in procs:
            p.start()
        parties = sorted((q.get() for _ in procs), key=lambda r: r["party"])
        for p in procs:
            p.join()
        t_relay = time.perf_counter()
        d = Path(tmp)
        size = intersection_size(np.load(d / "0-double.npy", mmap_mode="r"),
                                 np.load(d / "1-double.npy", mmap_mode="r"))
        wall = time.perf_counter() - t0
        relay_s = time.perf_counter() - t_relay
    relay_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for r in parties:
        r["elements_per_s_per_core"] = r["points_blinded"] / r["cpu_s"]
    return {"n_each": n, "shared_true": shared, "size_found": size, "exact": size == shared,
            "wall_s": wall, "relay_count_s": relay_s, "relay_peak_rss_mb": relay_rss,
            "parties": parties}


def dp_error(epsilons: list[float], size: int, draws: int = 2000) -> dict[str, Any]:
    """The cardinality mode's error from its DP noise at each epsilon: OpenDP's scale and 95%
    accuracy, and the mean and 95th percentile of |released - true| over fresh draws."""
    out = {}
    for eps in epsilons:
        errs = np.array([abs(noisy_size(size, eps)[0] - size) for _ in range(draws)])
        _, scale, acc = noisy_size(size, eps)
        out[str(eps)] = {"scale": scale, "accuracy95": acc, "mean_abs_error": float(errs.mean()),
                         "p95_abs_error": float(np.percentile(errs, 95))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--shared", type=float, default=0.3)
    ap.add_argument("--epsilons", default="0.1,0.5,1.0")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    runs: list[dict[str, Any]] = []
    machine = {"cpus": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0],
               "note": "shared machine: other engineers' jobs ran at the same time"}
    out: dict[str, Any] = {"runs": runs, "machine": machine}
    out["dp_error"] = dp_error([float(e) for e in args.epsilons.split(",")], 30_000)
    print(json.dumps({"dp_error": out["dp_error"]}), flush=True)
    for n in (int(s) for s in args.sizes.split(",") if s):
        res = run(n, args.shared)
        runs.append(res)
        print(json.dumps(res), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
