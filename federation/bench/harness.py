"""`comity bench churn|recommend`: one seeded, non-IID split into brands, and the same model
trained centralized (pooled upper bound), local-only per brand, federated through Flower,
and federated with DP-SGD, all reported in one JSON.

The federated runs go through real Flower ServerApp/ClientApp code in the simulation
runtime (one Ray start for both). Test sets are scored here, from the final weights, so
that every setting is measured on exactly the same rows.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid

from compliance.errors import InputError
from federation.bench.client_app import DATA_DIR_KEY, partition_path
from federation.bench.client_app import app as bench_client
from federation.bench.partition import dirichlet_split, stratified_split
from federation.brand.local import MEMBERSHIP_KEY
from federation.coordinator.coordinator import wait_for_nodes
from federation.coordinator.planning import plan_private_training
from federation.coordinator.statistics_round import release_and_evaluate
from federation.coordinator.strategy import STRATEGIES, make_strategy
from federation.data.connectors import LoadReport, load_customers, load_transactions
from federation.data.features import churn_table
from federation.data.interactions import leave_last_out
from federation.data.tabular import TableSummary, TabularEncoder, summarize
from federation.models.churn import (
    MODEL_KINDS,
    ChurnData,
    build_model,
    evaluate,
    get_weights,
    set_weights,
    train_local,
)
from federation.models.item_statistics import plan_statistics
from federation.models.recommend import (
    RecData,
    build_recommender,
    evaluate_ranking,
    fold_in,
    popularity_scores,
    rank_metrics,
    train_recommender,
)
from federation.privacy_audit import audit_churn_model
from federation.runtime.simulation import run_in_simulation
from federation.settings import SECAGG_MIN_BRANDS, RunSettings
from privacy.membership import chance_advantage, dp_bound, threshold_from_histograms

ProgressFn = Callable[[str], None]
# The named datasets live beside the checkout (`../shared/datasets`); a clone elsewhere
# points COMITY_DATASETS_DIR at them.
SHARED = Path(os.environ.get("COMITY_DATASETS_DIR")
              or Path(__file__).resolve().parents[3] / "shared" / "datasets")
NAMED = {
    "telco": dict(source=SHARED / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv",
                  id_col="customerID", label_col="Churn", positive="Yes"),
    "movielens": dict(source=SHARED / "movielens-small" / "ratings.csv",
                      customer_col="userId", time_col="timestamp", item_col="movieId",
                      time_format="unix"),
}


@dataclass
class BenchOptions:
    data: str
    brands: int = 5
    seed: int = 0
    alpha: float = 0.5
    rounds: int = 30
    local_epochs: int = 1
    epochs: int = 30
    lr: float = 0.01
    fed_lr: float | None = None  # local learning rate in federated rounds (default: lr)
    batch_size: int = 64
    model: str = "mlp"  # the product's churn model (RunSettings.model_kind)
    strategy: str = "fedavg"
    epsilon: float = 3.0
    delta: float = 1e-5
    clip: float = 1.0
    dp_lr: float = 0.5
    dp_batch_size: int = 256
    dim: int = 32
    test_share: float = 0.2
    id_col: str | None = None
    label_col: str | None = None
    positive: str | None = None
    customer_col: str | None = None
    time_col: str | None = None
    item_col: str | None = None
    amount_col: str | None = None
    time_format: str | None = None
    cutoff: str | None = None
    horizon_days: int = 90

    def __post_init__(self) -> None:
        """Every option is checked here, before any data is read or model trained."""
        def bad(name: str, why: str) -> InputError:
            return InputError(why, column=f"--{name.replace('_', '-')}")

        if self.strategy not in STRATEGIES:
            raise bad("strategy", f"unknown strategy '{self.strategy}' "
                                  f"({', '.join(STRATEGIES)})")
        if self.model not in MODEL_KINDS:
            raise bad("model", f"unknown model '{self.model}' ({', '.join(MODEL_KINDS)})")
        for name in ("brands", "rounds", "local_epochs", "epochs", "batch_size",
                     "dp_batch_size", "dim", "horizon_days"):
            if getattr(self, name) < (2 if name == "brands" else 1):
                raise bad(name, f"must be at least {2 if name == 'brands' else 1}")
        for name in ("alpha", "lr", "epsilon", "clip", "dp_lr", *(
                ("fed_lr",) if self.fed_lr is not None else ())):
            if not getattr(self, name) > 0:
                raise bad(name, "must be a positive number")
        if not 0 < self.delta < 1:
            raise bad("delta", "must be between 0 and 1")
        if not 0 < self.test_share < 1:
            raise bad("test_share", "must be between 0 and 1")
        if self.cutoff is not None:
            try:
                date.fromisoformat(self.cutoff)
            except ValueError:
                raise bad("cutoff", f"'{self.cutoff}' is not a date (YYYY-MM-DD)") from None
        if self.time_format not in (None, "unix") and "%" not in self.time_format:
            raise bad("time_format", f"'{self.time_format}' is neither 'unix' nor a "
                                     "strftime pattern such as %Y-%m-%d")

    @classmethod
    def for_task(cls, task: str, **given: Any) -> BenchOptions:
        """Options for `task`: what was given (None: not given), else the task's defaults,
        else the field defaults."""
        if task not in TASK_DEFAULTS:
            raise ValueError(f"unknown bench '{task}' (churn or recommend)")
        names = {f.name for f in fields(cls)}
        unknown = set(given) - names
        if unknown:
            raise ValueError(f"unknown bench options: {', '.join(sorted(unknown))}")
        chosen = {**TASK_DEFAULTS[task], **{k: v for k, v in given.items() if v is not None}}
        return cls(**chosen)


# Where a task's defaults differ from the field defaults (churn's are the field defaults).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "churn": {},
    "recommend": {"rounds": 20, "epochs": 20, "epsilon": 8.0},
}
BENCH_AS_OF = "2026-01-01T00:00:00+00:00"  # no consent snapshot: the bench's data is public


def _resolve(opts: BenchOptions) -> tuple[str, dict[str, Any]]:
    """A dataset name fills in its column options; explicit options win."""
    named = NAMED.get(opts.data, {})
    cols = {k: getattr(opts, k) or named.get(k) for k in (
        "id_col", "label_col", "positive", "customer_col", "time_col", "item_col",
        "amount_col", "time_format")}
    return str(named.get("source", opts.data)), cols


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(str(path), **arrays)  # type: ignore[arg-type]


def _timed(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = fn()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def bench_settings(name: str, n_brands: int, **kw: Any) -> RunSettings:
    """The benchmark's configurations as the product's run settings, so that the product's
    brand code (`federation.brand.local`) trains them. The brands are the partitions; no
    consent snapshot or silo is involved (the bench's data is not personal data)."""
    return RunSettings(run_id=name, brands=tuple(f"brand-{k}" for k in range(n_brands)),
                       consent_as_of=BENCH_AS_OF, **kw)


# ---------------------------------------------------------------- federated runtime

def run_federated_pair(data_dir: Path, initial: list[np.ndarray], runs: list[RunSettings],
                       *, strategy: str, max_customers: int = 0,
                       extra: dict[str, Any] | None = None
                       ) -> dict[str, tuple[list[np.ndarray], float, dict[str, Any]]]:
    """Train each run in turn through one Flower simulation; returns final weights, seconds
    and the last round's federated-evaluation metrics per run id. A run that releases item
    statistics is released as the product releases it (its metrics also carry the
    `attempts` the accountant counts; `max_customers` bounds a brand's sum)."""
    n_brands = len(runs[0].brands)

    def main(grid: Grid, context: Context) -> dict[str, tuple[list[np.ndarray], float,
                                                               dict[str, Any]]]:
        results: dict[str, tuple[list[np.ndarray], float, dict[str, Any]]] = {}
        for run in runs:
            t0 = time.perf_counter()
            record = run.to_record()
            record.update({DATA_DIR_KEY: str(data_dir), **(extra or {})})
            if run.item_statistics:
                plan = plan_statistics(target_epsilon=run.dp_epsilon, delta=run.dp_delta,
                                       n_items=run.items)
                weights, attempts, metrics = release_and_evaluate(
                    grid, context, wait_for_nodes(grid, n_brands), plan, record,
                    n_brands=n_brands, secure=n_brands >= SECAGG_MIN_BRANDS,
                    max_customers=max_customers, n_items=run.items, dim=run.dim)
                results[run.run_id] = (weights, time.perf_counter() - t0,
                                       {**metrics, "attempts": attempts})
                continue
            strat = make_strategy(strategy, n_brands)
            res = strat.start(grid=grid, initial_arrays=ArrayRecord(initial),
                              num_rounds=run.rounds, train_config=record,
                              evaluate_config=record)
            last = res.evaluate_metrics_clientapp.get(run.rounds)
            results[run.run_id] = (res.arrays.to_numpy_ndarrays(), time.perf_counter() - t0,
                                   dict(last) if last is not None else {})
        return results

    return run_in_simulation(main, n_nodes=n_brands, client_app=bench_client,
                             what="the benchmark's federated training")


# ---------------------------------------------------------------- churn

def _churn_frame(opts: BenchOptions, source: str, cols: dict[str, Any]
                 ) -> tuple[pd.DataFrame, list[str], LoadReport]:
    if cols["customer_col"]:
        log, report = load_transactions(source, customer_col=cols["customer_col"],
                                        time_col=cols["time_col"], item_col=cols["item_col"],
                                        amount_col=cols["amount_col"],
                                        time_format=cols["time_format"])
        if log.empty:
            raise ValueError(f"{source}: no usable transactions")
        naive = log.assign(ordered_at=log["ordered_at"].dt.tz_localize(None))
        cutoff = (date.fromisoformat(opts.cutoff) if opts.cutoff else
                  (naive["ordered_at"].max() - pd.Timedelta(days=opts.horizon_days)).date())
        table = churn_table(naive, pd.DataFrame({"customer_id": []}), cutoff=cutoff,
                            horizon_days=opts.horizon_days).drop(columns=["age_years"])
        table = table.rename(columns={"churned": "label"})
        return table, [c for c in table.columns if c not in ("customer_id", "label")], report
    if not (cols["id_col"] and cols["label_col"]):
        raise ValueError("a customer table needs --id-col and --label-col "
                         "(or give --customer-col --time-col --item-col for a transaction log)")
    table, report = load_customers(source, id_col=cols["id_col"],
                                   label_col=cols["label_col"], positive=cols["positive"])
    return table, [c for c in table.columns if c not in ("customer_id", "label")], report


def bench_churn(opts: BenchOptions, progress: ProgressFn | None = None) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    source, cols = _resolve(opts)
    table, features, report = _churn_frame(opts, source, cols)
    y = table["label"].to_numpy(dtype=np.float32)
    if len(np.unique(y)) < 2:
        raise InputError(f"every loaded row has label {int(y[0])}: AUC needs both classes",
                         file=source)
    parts = dirichlet_split(y.astype(int), opts.brands, alpha=opts.alpha, seed=opts.seed,
                            min_size=max(20, int(2 / opts.test_share)))
    splits = []
    for k, idx in enumerate(parts):
        tr, te = stratified_split(y[idx].astype(int), opts.test_share, seed=opts.seed + k)
        splits.append((idx[tr], idx[te]))
    summary = TableSummary()
    for tr, _ in splits:  # federated fit: each brand shares only its column summary
        summary = summary.merge(summarize(table.iloc[tr], features))
    enc = TabularEncoder.fit(summary)
    x = enc.encode(table)
    brands = [ChurnData(x[tr], y[tr], x[te], y[te]) for tr, te in splits]
    x_test = np.concatenate([b.x_test for b in brands])
    y_test = np.concatenate([b.y_test for b in brands])
    x_train = np.concatenate([b.x_train for b in brands])
    y_train = np.concatenate([b.y_train for b in brands])

    def fresh() -> torch.nn.Module:
        torch.manual_seed(opts.seed)
        return build_model(enc.width, opts.model)

    def central() -> dict[str, Any]:
        say("centralized")
        m = fresh()
        train_local(m, x_train, y_train, epochs=opts.epochs, lr=opts.lr,
                    batch_size=opts.batch_size, seed=opts.seed)
        return {"metrics": evaluate(m, x_test, y_test), "train_rows": len(x_train)}

    def local() -> dict[str, Any]:
        per: list[dict[str, Any]] = []
        for i, b in enumerate(brands):
            say(f"local-only brand {i + 1}/{len(brands)}")
            m = fresh()
            train_local(m, b.x_train, b.y_train, epochs=opts.epochs, lr=opts.lr,
                        batch_size=opts.batch_size, seed=opts.seed)
            per.append({"brand": i, "train_rows": len(b.x_train),
                        "positive_share": round(float(b.y_train.mean()), 3),
                        "pooled_test": evaluate(m, x_test, y_test),
                        "own_test": evaluate(m, b.x_test, b.y_test)})
        return {"metrics": {"auc": float(np.mean([p["pooled_test"]["auc"] for p in per]))},
                "brands": per}

    central_out = _timed(central)
    local_out = _timed(local)
    common = dict(model="churn", model_kind=opts.model, seed=opts.seed, rounds=opts.rounds,
                  local_epochs=opts.local_epochs, batch_size=opts.batch_size)
    plain = bench_settings("federated", len(brands), learning_rate=opts.fed_lr or opts.lr,
                           **common)
    private, plan = plan_private_training(
        bench_settings("federated_dp", len(brands), learning_rate=opts.fed_lr or opts.lr,
                       dp_epsilon=opts.epsilon, dp_delta=opts.delta, dp_clip=opts.clip,
                       dp_learning_rate=opts.dp_lr, dp_batch_size=opts.dp_batch_size,
                       **common),
        min(b.train_examples for b in brands))
    assert plan is not None
    with tempfile.TemporaryDirectory(prefix="comity-bench-") as d:
        for i, b in enumerate(brands):
            _save(partition_path(Path(d), i), asdict(b))
        say(f"federated and federated with DP: {opts.rounds} rounds each, "
            f"{opts.brands} brands")
        fed = run_federated_pair(Path(d), get_weights(fresh()), [plain, private],
                                 strategy=opts.strategy)

    def scored(name: str, epsilon: float | None = None) -> dict[str, Any]:
        m = fresh()
        set_weights(m, fed[name][0])
        say(f"membership inference against {name}")
        mia = audit_churn_model(m, x_train, y_train, x_test, y_test, epsilon=epsilon,
                                delta=opts.delta if epsilon is not None else None,
                                seed=opts.seed)
        return {"metrics": evaluate(m, x_test, y_test), "seconds": round(fed[name][1], 2),
                "membership_inference": mia}

    dp_out = {**scored("federated_dp", plan.epsilon()), **plan.report()}
    return {"task": "churn", "data": opts.data, "load": report.as_dict(),
            "brands": opts.brands, "seed": opts.seed, "alpha": opts.alpha,
            "model": opts.model, "strategy": opts.strategy, "rounds": opts.rounds,
            "features": enc.width, "test_rows": len(x_test),
            "centralized": central_out, "local_only": local_out,
            "federated": scored("federated"), "federated_dp": dp_out}


# ---------------------------------------------------------------- recommendation

def _by_users(per: list[dict[str, Any]], brands: list[RecData]) -> dict[str, float]:
    """Ranking metrics over all users: brands weighted by their evaluated users."""
    w = np.asarray([b.n_users for b in brands], dtype=np.float64)
    return {k: float(np.average([p[k] for p in per], weights=w)) for k in ("hr10", "ndcg10")}


def _rec_membership(metrics: dict[str, Any], users: int, epsilon: float | None,
                    delta: float) -> dict[str, Any]:
    """Pool the brands' membership-score shares (averaged by users, so times all users they
    are counts) and attack at the best threshold. Scores come from each brand's own users
    and the shared items, computed at the brand; only the binned shares left it."""
    members = np.asarray(metrics["mia-members"], dtype=float) * users
    nonmembers = np.asarray(metrics["mia-nonmembers"], dtype=float) * users
    res = threshold_from_histograms(members, nonmembers)
    return {"epsilon": epsilon, "delta": delta if epsilon is not None else None,
            "dp_advantage_bound": dp_bound(epsilon, delta),
            "score_threshold": res.as_dict(), "advantage": res.advantage,
            "chance_advantage_95": round(chance_advantage(res.members, res.nonmembers), 4)}


def bench_recommend(opts: BenchOptions, progress: ProgressFn | None = None) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    source, cols = _resolve(opts)
    if not (cols["customer_col"] and cols["time_col"] and cols["item_col"]):
        raise ValueError("recommendation needs a transaction log: --customer-col "
                         "--time-col --item-col")
    log, report = load_transactions(source, customer_col=cols["customer_col"],
                                    time_col=cols["time_col"], item_col=cols["item_col"],
                                    amount_col=cols["amount_col"],
                                    time_format=cols["time_format"])
    items = {it: k for k, it in enumerate(sorted(log["item_id"].unique()))}
    users = np.asarray(sorted(log["customer_id"].unique()))
    # Non-IID: users grouped by the popularity band of their typical item.
    pop = log.groupby("item_id").size()
    typical = log.assign(p=log["item_id"].map(pop)).groupby("customer_id")["p"].median()
    bands = pd.qcut(typical.reindex(users).rank(method="first"), 4, labels=False)
    parts = dirichlet_split(np.asarray(bands), opts.brands, alpha=opts.alpha, seed=opts.seed)
    brand_logs = [log[log["customer_id"].isin(set(users[p]))] for p in parts]
    brands = [leave_last_out(bl, items) for bl in brand_logs]
    pooled = leave_last_out(log, items)
    counts = np.bincount(np.concatenate([b.train_i for b in brands]), minlength=len(items))

    def fresh(n_users: int) -> Any:
        torch.manual_seed(opts.seed)
        return build_recommender(n_users, len(items), opts.dim)

    def central() -> dict[str, Any]:
        say("centralized")
        m = fresh(pooled.n_users)
        train_recommender(m, pooled, epochs=opts.epochs, lr=opts.lr, seed=opts.seed)
        return {"metrics": evaluate_ranking(m, pooled), "users": pooled.n_users}

    def local() -> dict[str, Any]:
        per = []
        for i, b in enumerate(brands):
            say(f"local-only brand {i + 1}/{len(brands)}")
            m = fresh(b.n_users)
            train_recommender(m, b, epochs=opts.epochs, lr=opts.lr, seed=opts.seed)
            per.append({"brand": i, "users": b.n_users, **evaluate_ranking(m, b)})
        return {"metrics": _by_users(per, brands), "brands": per}

    def popularity() -> dict[str, Any]:
        return {"metrics": _by_users([rank_metrics(popularity_scores(b, counts), b)
                                      for b in brands], brands)}

    central_out = _timed(central)
    local_out = _timed(local)
    pop_out = _timed(popularity)
    # Under DP the item side is released as item statistics, as the product does it.
    common = dict(model="recommend", items=len(items), dim=opts.dim, seed=opts.seed,
                  rounds=opts.rounds, local_epochs=opts.local_epochs, learning_rate=opts.lr)
    runs = [bench_settings("federated", len(brands), **common),
            bench_settings("federated_dp", len(brands), dp_epsilon=opts.epsilon,
                           dp_delta=opts.delta, **common)]
    stats = plan_statistics(target_epsilon=opts.epsilon, delta=opts.delta,
                            n_items=len(items))
    initial = fresh(1).item_weights()
    with tempfile.TemporaryDirectory(prefix="comity-bench-") as d:
        for i, b in enumerate(brands):
            _save(partition_path(Path(d), i), b.to_arrays())
        say(f"federated ({opts.rounds} rounds) and federated with DP item statistics")
        fed = run_federated_pair(Path(d), initial, runs, strategy=opts.strategy,
                                 max_customers=max(b.n_users for b in brands),
                                 extra={MEMBERSHIP_KEY: True})
        # User embeddings stayed at the brands: each brand folds its own users in against
        # the final shared items (what serving does).
        def scored(name: str) -> dict[str, Any]:
            per = [evaluate_ranking(fold_in(fed[name][0], b, lr=opts.lr, seed=opts.seed,
                                            fit_user_vectors=name != "federated_dp"), b)
                   for b in brands]
            return {"metrics": _by_users(per, brands), "seconds": round(fed[name][1], 2),
                    "membership_inference": _rec_membership(fed[name][2], pooled.n_users,
                                                            epsilon, opts.delta)}

        epsilon = None
        fed_out = scored("federated")
        attempts = int(fed["federated_dp"][2]["attempts"])
        epsilon = stats.epsilon(attempts)
        dp_out = {**scored("federated_dp"), **stats.report(attempts)}
    return {"task": "recommend", "data": opts.data, "load": report.as_dict(),
            "brands": opts.brands, "seed": opts.seed, "alpha": opts.alpha,
            "rounds": opts.rounds, "items": len(items), "users": pooled.n_users,
            "centralized": central_out, "local_only": local_out, "popularity": pop_out,
            "federated": fed_out, "federated_dp": dp_out}
