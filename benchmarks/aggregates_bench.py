"""DP-aggregate benchmarks, side by side in one run.

    python benchmarks/aggregates_bench.py [--rows 1000000] [--repeats 30] [--json OUT]

1. Latency: a grouped count+mean (spend by city) over `rows` customers in Parquet, answered by
   the aggregate service (policy, ledger, audit and all) with its calibration cache, against the
   same non-private Polars group-by (in memory and from the file) and against OpenDP's own path
   that calibrates every release (`LazyFrameQuery.release()`). p50 of `repeats` runs each.
2. Contention: 200 concurrent POST /v1/aggregates against one ledger on `comity serve`
   (embedded SQLite); afterwards spent <= limit exactly and every refusal a clean 429.
3. Federated: the same query, same epsilon, over 5 brand silos that share customers: pooled
   (the de-duplicated people in one table), today's federated path (Flower and SecAgg+, noise
   for a person at every brand) and federated de-duplicated (linked by the PSI ring, each
   person counted at one brand, noise for one silo); 95% interval half-widths and their
   ratio to pooled, and whether the de-duplicated true value is the pooled one.
4. Coverage: over many releases, how often the reported 95% interval holds the true value
   (count, sum and mean).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import opendp.prelude as dp
import polars as pl
from server import api_server  # benchmarks/server.py, next to this script
from sqlalchemy import select

from compliance.database import Database
from compliance.policy.loader import load_policies
from compliance.tokens.service import TokenService
from privacy.aggregates.ledger import MICRO
from privacy.aggregates.models import BudgetLedger
from privacy.aggregates.plan import calibrate
from privacy.aggregates.registry import Registry
from privacy.aggregates.release import execute, mean_interval, scan
from privacy.aggregates.schemas import AggregateQuery
from privacy.aggregates.service import AggregateService

CITIES = ["Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan",
          "Xi'an"]
TIERS = ["high_value", "active", "dormant", "at_risk"]
BOUNDS = (0.0, 5000.0)


def make_data(path: Path, rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    df = pl.DataFrame({
        "customer_id": [f"cust{i:08d}" for i in range(rows)],
        "city": rng.choice(CITIES, rows),
        "rfm_tier": rng.choice(TIERS, rows, p=[0.1, 0.4, 0.3, 0.2]),
        "churn_band": rng.choice(["low", "medium", "high"], rows),
        "spend": rng.gamma(2.0, 300.0, rows),
        "orders": rng.integers(0, 60, rows),
    })
    df.write_parquet(path)
    return df


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(times) * 1000, 2),
            "min_ms": round(min(times) * 1000, 2), "max_ms": round(max(times) * 1000, 2),
            "runs": len(times)}


def latency(work: Path, rows: int, repeats: int) -> dict[str, Any]:
    path = work / "customers.parquet"
    df = make_data(path, rows)
    db = Database(f"sqlite:///{work / 'latency.db'}")
    svc = AggregateService(db, load_policies())
    svc.register("customers", path, "customer_id", actor="bench",
                 bounds={"spend": BOUNDS, "orders": (0, 60)},
                 categories={"city": CITIES, "rfm_tier": TIERS},
                 data_categories={"city": "city"})
    svc.set_budget("service:bench", "customers", 20.0, period="day", actor="bench")
    query = AggregateQuery(dataset="customers", measure="mean", column="spend",
                           group_by=["city"], epsilon=0.01)

    def plain_memory() -> None:
        df.group_by("city").agg(pl.len(), pl.col("spend").mean())

    def plain_file() -> None:
        pl.scan_parquet(path).group_by("city").agg(pl.len(), pl.col("spend").mean()).collect()

    def ours() -> None:
        svc.query("service:bench", query)

    def release_only() -> None:
        with db.reading() as s:
            spec = Registry(s, svc.policies).get("customers")[1]
        execute(svc.cache.get(query, spec, svc.policy.query_delta), scan(spec, query))

    def opendp_uncached() -> None:
        ctx = dp.Context.compositor(
            data=pl.scan_parquet(path).select("city", "spend"),
            privacy_unit=dp.unit_of(contributions=1), privacy_loss=dp.loss_of(epsilon=0.01),
            split_evenly_over=1,
            margins=[dp.polars.Margin(by=[], max_length=10_000_000),
                     dp.polars.Margin(by=["city"], max_length=10_000_000,
                                      max_groups=len(CITIES))])
        spend: Any = pl.col("spend").fill_null(0.0)
        ctx.query().group_by("city").agg(
            dp.len(signed=True), spend.dp.sum(BOUNDS)
        ).with_keys(pl.DataFrame({"city": CITIES})).release().collect()

    plain_memory()
    plain_file()
    t0 = time.perf_counter()
    ours()
    cold = time.perf_counter() - t0
    res: dict[str, Any] = {
        "rows": rows,
        "query": query.model_dump(exclude_defaults=True),
        "nonprivate_polars_in_memory": summary(timed(plain_memory, repeats)),
        "nonprivate_polars_from_parquet": summary(timed(plain_file, repeats)),
        "comity_first_request_ms": round(cold * 1000, 1),
        "comity_cached": summary(timed(ours, repeats)),
        "comity_release_only_no_ledger": summary(timed(release_only, repeats)),
        "opendp_calibrating_every_release": summary(timed(opendp_uncached, min(5, repeats))),
        "calibration_cache": {"hits": svc.cache.hits, "misses": svc.cache.misses},
    }
    p50 = res["comity_cached"]["p50_ms"]
    res["ratio_vs_nonprivate_in_memory"] = round(
        p50 / res["nonprivate_polars_in_memory"]["p50_ms"], 2)
    res["ratio_vs_nonprivate_from_parquet"] = round(
        p50 / res["nonprivate_polars_from_parquet"]["p50_ms"], 2)
    res["speedup_vs_opendp_calibrating"] = round(
        res["opendp_calibrating_every_release"]["p50_ms"] / p50, 1)
    db.dispose()
    return res


async def _burst(base: str, token: str, n: int, body: dict[str, Any]) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}"}
        resp = await asyncio.gather(*(client.post("/v1/aggregates", json=body, headers=headers)
                                      for _ in range(n)))
    bad = [r for r in resp if r.status_code == 429 and "epsilon_remaining" not in r.json()]
    assert not bad, "a 429 without the remaining budget"
    return [r.status_code for r in resp]


def contention(work: Path, n: int = 200, limit: float = 2.0, eps: float = 0.1
               ) -> dict[str, Any]:
    url = f"sqlite:///{work / 'contention.db'}"
    path = work / "small.parquet"
    make_data(path, 20_000, seed=1)
    db = Database(url)
    svc = AggregateService(db, load_policies())
    svc.register("customers", path, "customer_id", actor="bench",
                 bounds={"spend": BOUNDS}, categories={"city": CITIES})
    svc.set_budget("service:contend", "customers", limit, actor="bench")
    with db.unit_of_work() as s:
        token = TokenService(s).create("service:contend", principal="contend")
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(work / "keys")}
    body = {"dataset": "customers", "measure": "count", "group_by": ["city"], "epsilon": eps}
    with api_server(env) as (base, _):
        t0 = time.perf_counter()
        codes = asyncio.run(_burst(base, token, n, body))
        seconds = time.perf_counter() - t0
    with db.reading() as s:
        led = s.scalars(select(BudgetLedger)).one()
        spent, cap = led.spent_micro, led.limit_micro
    db.dispose()
    counts = {str(c): codes.count(c) for c in sorted(set(codes))}
    return {"concurrent_requests": n, "epsilon_each": eps, "limit": limit,
            "status_counts": counts, "spent_epsilon": spent / MICRO,
            "spent_le_limit": spent <= cap, "expected_successes": int(round(limit / eps)),
            "server_errors": sum(1 for c in codes if c >= 500), "seconds": round(seconds, 2)}


# Brands per person in `alliance_data` and their shares: 1.75 brands per person on average.
BRANDS_PER_PERSON = ([1, 2, 3, 5], [0.5, 0.35, 0.1, 0.05])


def alliance_data(work: Path, rows: int, brands: int, seed: int = 3
                  ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """People (one row each: the pooled, de-duplicated table) and `brands` silos that hold
    about `rows` rows together, a person at 1, 2, 3 or all brands (`BRANDS_PER_PERSON`),
    with the same city and spend wherever they are, under each brand's own customer id; the
    join key is the person's phone (E.164). Every person is linked (consent and key)."""
    rng = np.random.default_rng(seed)
    counts, shares = BRANDS_PER_PERSON
    n = int(rows / float(np.dot(counts, shares)))
    people = make_data(work / "pooled.parquet", n, seed=seed).with_columns(
        phone=pl.format("+86138{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(8)))
    people.write_parquet(work / "pooled.parquet")
    m = rng.choice(counts, n, p=shares)
    at = np.argsort(rng.random((n, brands)), axis=1).argsort(axis=1) < m[:, None]
    silos = {}
    for b in range(brands):
        silos[f"brand-{b}"] = (people.filter(pl.Series(at[:, b]))
                               .with_columns(customer_id=pl.format("b{}-", pl.lit(b))
                                             + pl.col("customer_id")))
    return people, silos


def dedup_release(plan: Any, silos: dict[str, pl.DataFrame], run_id: str, linkage: str
                  ) -> tuple[Any, pl.DataFrame, np.ndarray, dict[str, Any]]:
    """The de-duplicated answer's linkage and release with the product's own functions, in
    process: each brand's points blinded by its run scalar in the order of their blinded
    values, the ring (`ring_holder`), `keep_bits`, `linked_rows` + `local_vector` at each
    brand, summed here as SecAgg+ would (counts exactly), and `release_sum` for one silo.
    `linkage` "plain" skips the blindings (keep bits over the unblinded H(x), one tag per key
    as the ring gives, so the same holders and answer): k x n X25519 operations are minutes
    per million points on a core, and do not change the accuracy."""
    from privacy.aggregates.federated import local_vector, release_sum
    from privacy.aggregates.service import DEDUP_WHY
    from privacy.overlap.dedup import keep_bits, linked_rows, ring_holder
    from privacy.overlap.psi import Blinder, hash_to_point, points, to_array

    names = list(silos)
    k = len(names)
    blinders = [Blinder.derive(os.urandom(32), run_id) for _ in names]
    t0 = time.perf_counter()
    keys, arrays = [], []
    for i, b in enumerate(names):
        phones = silos[b]["phone"].to_list()
        own = (blinders[i].blind_keys(phones) if linkage == "ring"
               else to_array(b"".join(hash_to_point(p) for p in phones)))
        order = np.argsort(np.ascontiguousarray(own).view("V32").ravel(), kind="stable")
        arrays.append(own[order])
        keys.append(silos[b]["customer_id"].gather(order).to_list())
    for step in range(1, k if linkage == "ring" else 1):
        arrays = [blinders[ring_holder(i, step, k)].blind(points(arrays[i])) for i in range(k)]
    blinded = time.perf_counter() - t0
    bits = keep_bits(dict(zip(names, arrays, strict=True)), run_id)
    vectors = []
    for i, b in enumerate(names):
        # one customer id per person at a brand here: the person is the customer
        kept = {cid: cid for cid, bit in zip(keys[i], bits[b], strict=True) if bit}
        vectors.append(local_vector(linked_rows(silos[b], "customer_id", kept), plan))
    summed = np.sum(vectors, axis=0)
    cal, raw = release_sum(summed, plan, 1, why=DEDUP_WHY)
    total = sum(len(a) for a in arrays)
    stats = {"linkage": linkage, "points": total,
             "linkage_seconds": round(time.perf_counter() - t0, 1),
             **({"blind_operations": total * k,
                 "blind_ops_per_second": round(total * k / blinded)} if linkage == "ring"
                else {}),
             "kept": {b: int(bits[b].sum()) for b in names},
             "dropped_duplicates": total - int(sum(bits[b].sum() for b in names))}
    return cal, raw, summed, stats


def _interval_figures(groups: list[Any], truth: dict[str, float]) -> dict[str, Any]:
    return {"max_abs_error": round(max(abs(float(g.value or 0) - truth[g.key["city"]])
                                       for g in groups), 3),
            "mean_ci_halfwidth": round(statistics.mean(
                (g.ci95[1] - g.ci95[0]) / 2 for g in groups if g.ci95), 3),
            "within_ci": sum(1 for g in groups
                             if g.ci95 and g.ci95[0] <= truth[g.key["city"]] <= g.ci95[1]),
            "groups": len(groups)}


def alliance_policies(work: Path, brands: list[str]) -> None:
    """The product's policies with `brands` as parties to the alliance agreement (as one
    of its brands is) and in its `exact_to` (a de-duplicated query tells each brand which
    of its customers another brand holds), for this process and the simulation's workers
    (COMITY_POLICY_DIR)."""
    import shutil

    import yaml

    from compliance.policy.loader import policy_dir

    root = work / "policies"
    shutil.copytree(policy_dir(), root)
    agreement = yaml.safe_load((root / "alliance_agreement.yaml").read_text(encoding="utf-8"))
    model = next(p for p in agreement["parties"] if p["role"] == "joint_handler")
    agreement["parties"] += [{**model, "id": b, "name": b} for b in brands]
    agreement["join_key"]["exact_to"] = list(brands)  # each learns its own keep bits
    (root / "alliance_agreement.yaml").write_text(yaml.safe_dump(agreement), encoding="utf-8")
    os.environ["COMITY_POLICY_DIR"] = str(root)


def federated(work: Path, rows: int, brands: int = 5, linkage: str = "ring") -> dict[str, Any]:
    """The same grouped count+mean, same epsilon, three ways: pooled (the de-duplicated
    people in one table), today's federated path (each brand's rows through Flower and
    SecAgg+, noise for a person at every brand) and federated de-duplicated (linked first,
    each person counted at one brand, noise for one silo). Shared customers across brands."""
    from api.composition import simulated_secure_sum
    from federation.brand.node import set_simulation_nodes
    from federation.brand.provision import init_node
    from privacy.aggregates.federated import federated_plan
    from privacy.aggregates.release import finish

    people, frames = alliance_data(work, rows, brands)
    alliance_policies(work, list(frames))
    silos, nodes = {}, {}
    for b, frame in frames.items():
        silos[b] = work / f"{b}.parquet"
        frame.drop("phone").write_parquet(silos[b])
        nodes[b] = init_node(work / "nodes" / b, brand_id=b, jurisdiction="pipl",
                             api="http://127.0.0.1:9", aggregates={"alliance": str(silos[b])})
        (work / "nodes" / b / "silo" / "column_map.yaml").write_text("brand_id: x\n")
    set_simulation_nodes(nodes)
    people.drop("phone").write_parquet(work / "pooled.parquet")
    db = Database(f"sqlite:///{work / 'federated.db'}")
    svc = AggregateService(db, load_policies(), secure_sum=simulated_secure_sum)
    svc.register("alliance", work / "pooled.parquet", "customer_id", actor="bench",
                 bounds={"spend": BOUNDS}, categories={"city": CITIES}, silos=silos)
    svc.set_budget("service:bench", "alliance", 4.0, actor="bench")
    body = {"dataset": "alliance", "measure": "mean", "column": "spend",
            "group_by": ["city"], "epsilon": 1.0}
    per_person = {r["city"]: r["spend"] for r in people.group_by("city").agg(
        pl.col("spend").clip(*BOUNDS).mean()).iter_rows(named=True)}
    every_row = pl.concat(list(frames.values()))
    per_row = {r["city"]: r["spend"] for r in every_row.group_by("city").agg(
        pl.col("spend").clip(*BOUNDS).mean()).iter_rows(named=True)}
    out: dict[str, Any] = {
        "rows": every_row.height, "people": people.height, "brands": brands,
        "shared_people": int((every_row.group_by("phone").len()["len"] > 1).sum()),
        "brands_per_person": dict(zip(map(str, BRANDS_PER_PERSON[0]),
                                      BRANDS_PER_PERSON[1], strict=True)),
        "epsilon": body["epsilon"],
        "truth": "pooled and dedup against the people's mean; federated against the mean "
                 "over every row (a shared person counted at each brand)"}
    for name, fed, truth in (("pooled_dp", False, per_person),
                             ("federated_secagg_dp", True, per_row)):
        t0 = time.perf_counter()
        ans = svc.query("service:bench", AggregateQuery.model_validate({**body,
                                                                        "federated": fed}))
        out[name] = {"seconds": round(time.perf_counter() - t0, 2),
                     **_interval_figures(ans.groups, truth),
                     "noise_scales": {n["statistic"]: round(n["scale"], 2) for n in ans.noise}}
    with db.reading() as s:
        spec = Registry(s, svc.policies).get("alliance")[1]
    query = AggregateQuery.model_validate({**body, "federated": True, "dedup": True})
    plan = federated_plan(query, spec)
    t0 = time.perf_counter()
    cal, raw, summed, stats = dedup_release(plan, frames, "bench-dedup", linkage)
    groups, _ = finish(raw, cal, query, spec, svc.policy.min_group_size)
    g = len(plan.keys)
    noiseless = pl.DataFrame({"city": [key[0] for key in plan.keys],
                              "n": summed[:g] * plan.count_norm,
                              "s": summed[g:] * plan.sum_norm})
    pooled_truth = people.group_by("city").agg(pl.len().alias("n0"),
                                               pl.col("spend").clip(*BOUNDS).sum().alias("s0"))
    check = noiseless.join(pooled_truth, on="city")
    out["federated_dedup_dp"] = {
        "seconds": round(time.perf_counter() - t0, 2), **_interval_figures(groups, per_person),
        "noise_scales": {n["statistic"]: round(n["scale"], 2) for n in cal.noise},
        "true_value_equals_pooled_dedup_truth": bool(
            (check["n"].round() == check["n0"]).all()
            and np.allclose(check["s"], check["s0"], rtol=1e-9)),
        "linkage": stats, "path": "in process (the ring's and brands' own functions; the "
        "Flower round is tests/privacy/aggregates/test_dedup.py)"}
    pooled_hw = out["pooled_dp"]["mean_ci_halfwidth"]
    for name in ("federated_secagg_dp", "federated_dedup_dp"):
        out[name]["halfwidth_ratio_to_pooled"] = round(out[name]["mean_ci_halfwidth"]
                                                       / pooled_hw, 2)
    db.dispose()
    return out


def coverage(runs: int) -> dict[str, Any]:
    from privacy.aggregates.schemas import ColumnSpec, DatasetSpec

    spec = DatasetSpec(name="c", source="-", format="parquet", unit_col="customer_id",
                       max_rows_per_unit=1, max_rows=100_000, jurisdiction="pipl",
                       columns={"spend": ColumnSpec(dtype="float", bounds=BOUNDS)})
    rng = np.random.default_rng(7)
    n = 500
    spend = rng.gamma(2.0, 300.0, n)
    frame = pl.DataFrame({"spend": spend, "customer_id": [str(i) for i in range(n)]}).lazy()
    true = {"len": n, "spend": float(np.clip(spend, *BOUNDS).sum())}
    true_mean = true["spend"] / n
    out: dict[str, Any] = {"runs": runs, "rows": n}
    for measure in ("sum", "mean"):
        q = AggregateQuery(dataset="c", measure=measure, column="spend", epsilon=0.5)
        cal = calibrate(q, spec, 1e-7)
        acc = {x["statistic"]: x["accuracy95"] for x in cal.noise}
        scale = {x["statistic"]: x["scale"] for x in cal.noise}
        hits = {"len": 0, "spend": 0, "mean": 0}
        for _ in range(runs):
            row = cal.measurement(frame).collect().row(0, named=True)
            for stat in ("len", "spend"):
                hits[stat] += abs(row[stat] - true[stat]) <= acc[stat]
            if measure == "mean":
                lo, hi = mean_interval(row["spend"], row["len"], scale["spend"], scale["len"],
                                       BOUNDS, rng)
                hits["mean"] += lo <= true_mean <= hi
        if measure == "sum":
            out["count"] = round(hits["len"] / runs, 4)
            out["sum"] = round(hits["spend"] / runs, 4)
        else:
            out["mean"] = round(hits["mean"] / runs, 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--coverage-runs", type=int, default=4000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--linkage", choices=["ring", "plain"], default="ring",
                    help="federated de-duplicated: the real blinding ring, or plain (keep "
                         "bits over unblinded tags: the same answer, no X25519 time)")
    ap.add_argument("--only", choices=["latency", "contention", "federated", "coverage_95"],
                    action="append", help="Run only these parts (repeat); default: all")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["COMITY_KEY_DIR"] = str(work / "keys")
        parts: dict[str, Callable[[], Any]] = {
            "latency": lambda: latency(work, args.rows, args.repeats),
            "contention": lambda: contention(work),
            "federated": lambda: federated(work, args.rows, linkage=args.linkage),
            "coverage_95": lambda: coverage(args.coverage_runs)}
        result = {name: run() for name, run in parts.items()
                  if not args.only or name in args.only}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
