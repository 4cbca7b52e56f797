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
from dataclasses import asdict, dataclass, fields, replace
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
from federation.bench.pooled import churn_baselines, recommendation_baselines
from federation.bench.protocol import measured, protocol, summarize_seeds
from federation.bench.recommend_family import (
    SEQUENTIAL,
    outsider_membership,
    test_metrics,
    with_sequential,
)
from federation.brand.local import EVAL_SPLIT_KEY, MEMBERSHIP_KEY
from federation.coordinator.cooccurrence_round import release_and_choose
from federation.coordinator.coordinator import wait_for_nodes
from federation.coordinator.family import choose_family, validation_average
from federation.coordinator.joining import lift
from federation.coordinator.planning import plan_private_training
from federation.coordinator.statistics_round import release_and_evaluate
from federation.coordinator.strategy import STRATEGIES, make_strategy
from federation.data.connectors import LoadReport, load_customers, load_transactions
from federation.data.features import churn_table
from federation.data.interactions import validation_split
from federation.data.tabular import TableSummary, TabularEncoder, summarize
from federation.models.churn import (
    FAMILIES,
    MODEL_KINDS,
    ChurnData,
    build_model,
    evaluate,
    evaluate_scores,
    get_weights,
    predict_proba,
    set_weights,
    train_local,
)
from federation.models.churn_trees import TREES_KIND, empty_model
from federation.models.churn_trees import predict as predict_trees
from federation.models.cooccurrence import cooccurrence_plan
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
AUTO = "auto"
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
    # The federated churn family (RunSettings.model_kind), or "auto": chosen by federated
    # validation among every family (`federation.coordinator.family`).
    model: str = "auto"
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
    seeds: tuple[int, ...] | None = None  # the runs to summarise (None: `seed` alone)

    def __post_init__(self) -> None:
        """Every option is checked here, before any data is read or model trained."""
        def bad(name: str, why: str) -> InputError:
            return InputError(why, column=f"--{name.replace('_', '-')}")

        if self.strategy not in STRATEGIES:
            raise bad("strategy", f"unknown strategy '{self.strategy}' "
                                  f"({', '.join(STRATEGIES)})")
        if self.model not in (AUTO, *FAMILIES):
            raise bad("model", f"unknown model '{self.model}' ({', '.join((AUTO, *FAMILIES))})")
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
        if self.seeds is not None and (not self.seeds or min(self.seeds) < 0
                                       or len(set(self.seeds)) != len(self.seeds)):
            raise bad("seeds", "must be one or more distinct non-negative integers")
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
            if run.cooccurrence:
                stats, attempts, choice = release_and_choose(
                    grid, context, wait_for_nodes(grid, n_brands), run, record,
                    secure=n_brands >= SECAGG_MIN_BRANDS, max_customers=max_customers)
                results[run.run_id] = (stats.to_arrays(), time.perf_counter() - t0,
                                       {"attempts": attempts, "choice": choice})
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


def epoch_grid(epochs: int) -> list[int]:
    """The epoch counts validation chooses among: a quarter, half, three quarters and all
    of `epochs` (the most tried), scored along one training run."""
    return sorted({max(1, round(epochs * f)) for f in (0.25, 0.5, 0.75, 1.0)})


def _choose_epochs(train: Callable[[int, Callable[[int], None]], object],
                   score: Callable[[], dict[str, float]], epochs: int, key: str
                   ) -> dict[str, Any]:
    """Train once for `epochs`, scoring validation at each grid epoch; the best count (the
    fewest on a tie) and every score seen."""
    grid, seen = epoch_grid(epochs), {}

    def after(n: int) -> None:
        if n in grid:
            seen[n] = score()
    train(epochs, after)
    best = max(grid, key=lambda n: (np.nan_to_num(seen[n][key], nan=-np.inf), -n))
    return {"epochs": best, "validation": seen[best],
            "tried": {str(n): round(seen[n][key], 4) for n in grid}}


def _scored_loss(metrics: dict[str, float]) -> dict[str, float]:
    """Validation metrics with the log-loss negated to be maximised: epochs are chosen on
    the loss (early stopping's usual criterion), which on a brand's few validation rows is
    far steadier than their AUC."""
    return {**metrics, "neg_loss": -metrics["loss"]}


def bench_churn(opts: BenchOptions, progress: ProgressFn | None = None) -> dict[str, Any]:
    """One seed of the churn bench. Each brand's customers are split (stratified) into
    test rows, validation rows and fit rows (`protocol.protocol`); epochs and the baselines'
    hyper-parameters are chosen on validation, then refitted on fit + validation (which is
    also what each brand trains on in the federated runs) and scored once on test."""
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
        fit, val = stratified_split(y[idx[tr]].astype(int), opts.test_share,
                                    seed=opts.seed + 1000 + k)
        splits.append((idx[tr][fit], idx[tr][val], idx[te]))
    summary = TableSummary()
    for fit, val, _ in splits:  # federated fit: each brand shares only its column summary
        summary = summary.merge(summarize(table.iloc[np.sort(np.r_[fit, val])], features))
    enc = TabularEncoder.fit(summary)
    x = enc.encode(table)
    rows = {part: np.concatenate([s[j] for s in splits])
            for j, part in enumerate(("fit", "val", "test"))}
    trains = [np.sort(np.r_[fit, val]) for fit, val, _ in splits]  # a brand trains on both
    brands = [ChurnData(x[tr], y[tr], x[te], y[te])
              for tr, (_, _, te) in zip(trains, splits, strict=True)]
    # What federated validation trains on (fit rows) and scores (validation rows).
    choosing = [ChurnData(x[fit], y[fit], x[te], y[te], x[val], y[val])
                for fit, val, te in splits]
    x_test, y_test = x[rows["test"]], y[rows["test"]]
    x_train = np.concatenate([b.x_train for b in brands])
    y_train = np.concatenate([b.y_train for b in brands])
    net = opts.model if opts.model in MODEL_KINDS else "mlp"  # centralized, local-only

    def fresh(kind: str = net) -> torch.nn.Module:
        torch.manual_seed(opts.seed)
        return build_model(enc.width, kind)

    def fitted(fit: np.ndarray, val: np.ndarray) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Epochs chosen on `val` rows after training on `fit` rows, then a fresh model
        trained on both for that many epochs."""
        m = fresh()
        chosen = _choose_epochs(
            lambda n, after: train_local(m, x[fit], y[fit], epochs=n, lr=opts.lr,
                                         batch_size=opts.batch_size, seed=opts.seed,
                                         after_epoch=after),
            lambda: _scored_loss(evaluate(m, x[val], y[val])), opts.epochs, "neg_loss")
        both = np.r_[fit, val]
        m = fresh()
        train_local(m, x[both], y[both], epochs=chosen["epochs"], lr=opts.lr,
                    batch_size=opts.batch_size, seed=opts.seed)
        return m, chosen

    def central() -> dict[str, Any]:
        say("centralized")
        m, chosen = fitted(rows["fit"], rows["val"])
        return {"metrics": evaluate(m, x_test, y_test), "train_rows": len(x_train),
                "chosen": chosen}

    def local() -> dict[str, Any]:
        per: list[dict[str, Any]] = []
        for i, (fit, val, te) in enumerate(splits):
            say(f"local-only brand {i + 1}/{len(brands)}")
            m, chosen = fitted(fit, val)
            b = brands[i]
            per.append({"brand": i, "train_rows": len(b.x_train),
                        "positive_share": round(float(b.y_train.mean()), 3),
                        "chosen_epochs": chosen["epochs"],
                        "pooled_test": evaluate(m, x_test, y_test),
                        "own_test": evaluate(m, x[te], y[te])})
        return {"metrics": {"auc": float(np.mean([p["pooled_test"]["auc"] for p in per]))},
                "brands": per}

    central_out = measured(central)
    local_out = measured(local)
    recency = ({part: table["recency_days"].to_numpy(dtype=np.float64)[r]
                for part, r in rows.items()} if "recency_days" in table.columns else None)
    pooled = churn_baselines({p: x[r] for p, r in rows.items()},
                             {p: y[r] for p, r in rows.items()}, recency, seed=opts.seed,
                             progress=say)
    candidates = FAMILIES if opts.model == AUTO else (opts.model,)
    dp_candidates = tuple(f for f in candidates if f in MODEL_KINDS) or MODEL_KINDS
    common = dict(model="churn", seed=opts.seed, rounds=opts.rounds,
                  local_epochs=opts.local_epochs, batch_size=opts.batch_size,
                  learning_rate=opts.fed_lr or opts.lr)
    # Every DP candidate trains on the same customers: the plan is calibrated so that all
    # of their rounds together stay within epsilon (one composed RDP accountant).
    private, plan = plan_private_training(
        bench_settings("federated_dp", len(brands), dp_epsilon=opts.epsilon,
                       dp_delta=opts.delta, dp_clip=opts.clip, dp_learning_rate=opts.dp_lr,
                       dp_batch_size=opts.dp_batch_size,
                       **{**common, "rounds": opts.rounds * len(dp_candidates)}),
        min(b.train_examples for b in (choosing if len(dp_candidates) > 1 else brands)))
    assert plan is not None
    private = replace(private, rounds=opts.rounds)

    def settings_for(kind: str, dp: bool) -> RunSettings:
        if dp:
            return replace(private, run_id=f"federated_dp_{kind}", model_kind=kind)
        return bench_settings(f"federated_{kind}", len(brands), model_kind=kind, **common)

    def initial_for(kind: str) -> list[np.ndarray]:
        return empty_model() if kind == TREES_KIND else get_weights(fresh(kind))

    with tempfile.TemporaryDirectory(prefix="comity-bench-") as d:
        dirs = {"final": Path(d) / "final", "validation": Path(d) / "validation"}
        for name, group in (("final", brands), ("validation", choosing)):
            dirs[name].mkdir()
            for i, b in enumerate(group):
                _save(partition_path(dirs[name], i), asdict(b))
        say(f"federated family choice and federated with DP: {opts.rounds} rounds each, "
            f"{opts.brands} brands")
        fed_run = measured(lambda: run_churn_federation(
            dirs, candidates, dp_candidates, settings_for, initial_for,
            strategy=opts.strategy, n_brands=len(brands), progress=say))

    def proba(kind: str, weights: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        if kind == TREES_KIND:
            def trees(rows: np.ndarray) -> np.ndarray:
                p = predict_trees(weights[0].tobytes(), rows)
                return np.stack([1.0 - p, p], axis=1)
            return trees
        m = fresh(kind)
        set_weights(m, weights)
        return lambda rows: predict_proba(m, rows)

    def scored(kind: str, run: tuple[list[np.ndarray], float, dict[str, Any]],
               epsilon: float | None = None) -> dict[str, Any]:
        say(f"membership inference against the federated {kind} model"
            + (" (DP)" if epsilon is not None else ""))
        p = proba(kind, run[0])
        mia = audit_churn_model(p, x_train, y_train, x_test, y_test, epsilon=epsilon,
                                delta=opts.delta if epsilon is not None else None,
                                seed=opts.seed)
        return {"family": kind, "metrics": evaluate_scores(y_test, p(x_test)[:, 1]),
                "seconds": round(run[1], 2), "peak_memory_mb": fed_run["peak_memory_mb"],
                "memory_growth_mb": fed_run["memory_growth_mb"], "membership_inference": mia}

    fam = fed_run
    chosen_p = proba(fam["chosen"], fam["final"][0])
    own_fed = [{"auc": evaluate_scores(y[te], chosen_p(x[te])[:, 1])["auc"]}
               for _, _, te in splits]
    lift_out = per_brand_lift(own_fed, [p["own_test"] for p in local_out["brands"]], ("auc",))
    dp_out = {**scored(fam["dp_chosen"], fam["dp_final"], plan.epsilon()), **plan.report(),
              "candidate_runs": len(dp_candidates)}
    family = {"candidates": list(candidates), "chosen": fam["chosen"],
              "validation": fam["validation_metrics"], "dp_candidates": list(dp_candidates),
              "dp_chosen": fam["dp_chosen"], "dp_validation": fam["dp_validation_metrics"],
              "criterion": "federated validation AUC: brands' AUCs on their own validation "
                           "rows, mean weighted by those rows"}
    return {"task": "churn", "data": opts.data, "load": report.as_dict(),
            "brands": opts.brands, "seed": opts.seed, "alpha": opts.alpha,
            "model": opts.model, "strategy": opts.strategy, "rounds": opts.rounds,
            "features": enc.width, "test_rows": len(x_test),
            "validation_rows": len(rows["val"]),
            "centralized": central_out, "local_only": local_out, "family": family,
            "federated": scored(fam["chosen"], fam["final"]), "federated_dp": dp_out,
            "per_brand_lift": lift_out, **pooled}


FedRun = tuple[list[np.ndarray], float, dict[str, Any]]


def per_brand_lift(federated: list[dict[str, float]], local: list[dict[str, float]],
                   names: tuple[str, ...]) -> dict[str, dict[str, dict[str, float | None]]]:
    """The value of joining per brand, as the product records it (`per_brand_lift` in a
    run's lineage): brand i's federated figure beside its local-only model's, both on its
    own test customers."""
    return {str(i): {n: lift(float(f[n]), float(lo[n])) for n in names}
            for i, (f, lo) in enumerate(zip(federated, local, strict=True))}


def run_churn_federation(dirs: dict[str, Path], candidates: tuple[str, ...],
                         dp_candidates: tuple[str, ...],
                         settings_for: Callable[[str, bool], RunSettings],
                         initial_for: Callable[[str], list[np.ndarray]], *, strategy: str,
                         n_brands: int, progress: ProgressFn | None = None) -> dict[str, Any]:
    """The churn family chosen by federated validation, in one Flower simulation: each
    candidate trained on the brands' fit rows (`dirs["validation"]`) and scored by every
    brand on its validation rows; the chosen one retrained on fit + validation
    (`dirs["final"]`). Under DP the chosen candidate's own model is the result (retraining
    would spend more epsilon). A single candidate is not validated, only trained."""
    say = progress or (lambda _m: None)

    def main(grid: Grid, context: Context) -> dict[str, Any]:
        def run(settings: RunSettings, data_dir: Path, split: str | None) -> FedRun:
            say(f"federated {settings.model_kind}"
                + (" with DP" if settings.dp_plan is not None else "")
                + (" (validation)" if split else ""))
            t0 = time.perf_counter()
            strat = make_strategy(strategy, n_brands, model_kind=settings.model_kind)
            strat.evaluate_metrics_aggr_fn = validation_average
            record = settings.to_record()
            record[DATA_DIR_KEY] = str(data_dir)
            if split is not None:
                record[EVAL_SPLIT_KEY] = split
            res = strat.start(grid=grid, initial_arrays=ArrayRecord(
                initial_for(settings.model_kind)), num_rounds=settings.rounds,
                train_config=record, evaluate_config=record)
            last = res.evaluate_metrics_clientapp.get(settings.rounds)
            return (res.arrays.to_numpy_ndarrays(), time.perf_counter() - t0,
                    dict(last) if last is not None else {})

        out: dict[str, Any] = {}
        for dp, names in ((False, candidates), (True, dp_candidates)):
            pre = "dp_" if dp else ""
            if len(names) == 1:
                out[f"{pre}chosen"], out[f"{pre}validation_metrics"] = names[0], {}
                out[f"{pre}final"] = run(settings_for(names[0], dp), dirs["final"], None)
                continue
            tried = {f: run(settings_for(f, dp), dirs["validation"], "validation")
                     for f in names}
            metrics = {f: {k: round(float(v), 4) for k, v in r[2].items()
                           if k in ("auc", "loss", "accuracy")} for f, r in tried.items()}
            chosen = choose_family(metrics)
            out[f"{pre}chosen"], out[f"{pre}validation_metrics"] = chosen, metrics
            out[f"{pre}final"] = (tried[chosen] if dp else
                                  run(settings_for(chosen, dp), dirs["final"], None))
        return out

    return run_in_simulation(main, n_nodes=n_brands, client_app=bench_client,
                             what="the benchmark's federated churn training")


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


def typical_popularity(log: pd.DataFrame) -> pd.Series:
    """Per customer, the median popularity (interaction count) of the items they bought.
    Computed on integer codes and float counts, so that it works whatever dtype the ids
    were read as (pandas 3 reads them as `str`, which has no median)."""
    item_codes, _ = pd.factorize(log["item_id"].astype(str))
    customer_codes, customers = pd.factorize(log["customer_id"].astype(str))
    counts = np.bincount(item_codes).astype(np.float64)[item_codes]
    medians = pd.Series(counts).groupby(customer_codes).median()
    return pd.Series(medians.to_numpy(dtype=np.float64),
                     index=np.asarray(customers, dtype=object)[medians.index.to_numpy()])


def bench_recommend(opts: BenchOptions, progress: ProgressFn | None = None) -> dict[str, Any]:
    """One seed of the recommendation bench (`protocol.protocol`: the second-to-last item of
    each user is the validation item every choice is made on, the last the test item, scored
    once; same-timestamp ties in a shuffle seeded by the run's seed)."""
    say = progress or (lambda _m: None)
    source, cols = _resolve(opts)
    if not (cols["customer_col"] and cols["time_col"] and cols["item_col"]):
        raise ValueError("recommendation needs a transaction log: --customer-col "
                         "--time-col --item-col")
    log, report = load_transactions(source, customer_col=cols["customer_col"],
                                    time_col=cols["time_col"], item_col=cols["item_col"],
                                    amount_col=cols["amount_col"],
                                    time_format=cols["time_format"])
    items = {str(it): k for k, it in enumerate(sorted(log["item_id"].astype(str).unique()))}
    typical = typical_popularity(log)
    users = np.asarray(sorted(typical.index), dtype=object)
    # Non-IID: users grouped by the popularity band of their typical item.
    bands = pd.qcut(typical.reindex(users).rank(method="first"), 4, labels=False)
    parts = dirichlet_split(np.asarray(bands), opts.brands, alpha=opts.alpha, seed=opts.seed)
    brand_logs = [log[log["customer_id"].isin(set(users[p]))] for p in parts]
    splits = [validation_split(bl, items, tie_seed=opts.seed) for bl in brand_logs]
    brands = [final for _, final in splits]
    pooled_choice, pooled = validation_split(log, items, tie_seed=opts.seed)
    counts = np.bincount(np.concatenate([b.train_i for b in brands]), minlength=len(items))

    def fresh(n_users: int) -> Any:
        torch.manual_seed(opts.seed)
        return build_recommender(n_users, len(items), opts.dim)

    def fitted(choice: RecData, final: RecData) -> tuple[Any, dict[str, Any]]:
        """Epochs chosen on `choice`'s validation items, then a fresh model trained on
        `final`'s training rows (which include them) for that many epochs."""
        m = fresh(choice.n_users)
        chosen = _choose_epochs(
            lambda n, after: train_recommender(m, choice, epochs=n, lr=opts.lr,
                                               seed=opts.seed, after_epoch=after),
            lambda: evaluate_ranking(m, choice), opts.epochs, "hr10")
        m = fresh(final.n_users)
        train_recommender(m, final, epochs=chosen["epochs"], lr=opts.lr, seed=opts.seed)
        return m, chosen

    def central() -> dict[str, Any]:
        say("centralized")
        m, chosen = fitted(pooled_choice, pooled)
        return {"metrics": evaluate_ranking(m, pooled), "users": pooled.n_users,
                "chosen": chosen}

    def local() -> dict[str, Any]:
        per = []
        for i, (choice, b) in enumerate(splits):
            say(f"local-only brand {i + 1}/{len(brands)}")
            m, chosen = fitted(choice, b)
            per.append({"brand": i, "users": b.n_users, "chosen_epochs": chosen["epochs"],
                        **evaluate_ranking(m, b)})
        return {"metrics": _by_users(per, brands), "brands": per}

    def popularity() -> dict[str, Any]:
        return {"metrics": _by_users([rank_metrics(popularity_scores(b, counts), b)
                                      for b in brands], brands)}

    central_out = measured(central)
    local_out = measured(local)
    pop_out = measured(popularity)
    pooled_out = recommendation_baselines(pooled_choice, pooled, seed=opts.seed,
                                          progress=say)
    # Every federated run trains (or releases its statistics) on the brands' choice splits,
    # so that its federated validation figures are on the validation items; the test items
    # are scored once, after the choice, with each brand's full history.
    common = dict(model="recommend", items=len(items), dim=opts.dim, seed=opts.seed,
                  rounds=opts.rounds, local_epochs=opts.local_epochs, learning_rate=opts.lr)
    dp = dict(dp_epsilon=opts.epsilon, dp_delta=opts.delta)
    co = dict(common, recommender="cooccurrence")
    runs = [bench_settings("federated_sequential", len(brands), **common),
            bench_settings("federated_cooccurrence", len(brands), **co),
            bench_settings("federated_cooccurrence_dp", len(brands), **dp, **co),
            bench_settings("federated_dp_sequential", len(brands), **dp, **common)]
    stats = plan_statistics(target_epsilon=opts.epsilon, delta=opts.delta,
                            n_items=len(items))
    co_plan = cooccurrence_plan(target_epsilon=opts.epsilon, delta=opts.delta,
                                n_items=len(items))
    initial = fresh(1).item_weights()
    with tempfile.TemporaryDirectory(prefix="comity-bench-") as d:
        for i, (choice, _) in enumerate(splits):
            _save(partition_path(Path(d), i), choice.to_arrays())
        say(f"federated: sequential ({opts.rounds} rounds) and co-occurrence families, "
            "each with and without DP")
        fed_run = measured(lambda: {"runs": run_federated_pair(
            Path(d), initial, runs, strategy=opts.strategy,
            max_customers=max(b.n_users for b in brands), extra={MEMBERSHIP_KEY: True})})
        fed = fed_run["runs"]

        def cost(name: str) -> dict[str, Any]:
            return {"seconds": round(fed[name][1], 2),
                    "peak_memory_mb": fed_run["peak_memory_mb"],
                    "memory_growth_mb": fed_run["memory_growth_mb"]}

        # User embeddings stayed at the brands: each brand folds its own users in against
        # the final shared items (what serving does).
        def scored(name: str, epsilon: float | None = None) -> dict[str, Any]:
            private = name == "federated_dp_sequential"
            per = [evaluate_ranking(fold_in(fed[name][0], b, lr=opts.lr, seed=opts.seed,
                                            fit_user_vectors=not private), b)
                   for b in brands]
            metrics = fed[name][2]
            return {"metrics": _by_users(per, brands), "brands": per, **cost(name),
                    "validation": {k: float(metrics[k]) for k in ("hr10", "ndcg10")},
                    "membership_inference": _rec_membership(metrics, pooled.n_users,
                                                            epsilon, opts.delta)}

        seq_out = scored("federated_sequential")
        attempts = int(fed["federated_dp_sequential"][2]["attempts"])
        seq_dp_out = {**scored("federated_dp_sequential", stats.epsilon(attempts)),
                      **stats.report(attempts)}

        def family(name: str, sequential: dict[str, float] | None) -> dict[str, Any]:
            """The co-occurrence run's choice (with the sequential factorization beside it
            where it is a candidate) and the chosen family's test figures."""
            choice = with_sequential(fed[name][2]["choice"], sequential)
            private = name.endswith("_dp")
            plan = co_plan if private else None
            dp_report = fed[name][2]["choice"].get("dp") or {}
            mia = outsider_membership(pooled_choice, plan=plan,
                                      epsilon=dp_report.get("epsilon"), delta=opts.delta,
                                      seed=opts.seed)
            if choice["family"] == SEQUENTIAL:
                out = {**seq_out, "family": SEQUENTIAL}
            else:
                per = test_metrics(fed[name][0], choice["chosen"], brands)
                out = {"metrics": _by_users(per, brands), "brands": per,
                       **cost(name), "family": choice["family"],
                       "chosen": choice["chosen"], "membership_inference": mia}
            return {**out, **dp_report, "validation": choice["validation"][choice["family"]],
                    "choice": choice, "membership_inference_outsider": mia}

        fed_out = family("federated_cooccurrence", seq_out["validation"])
        # The DP choice is among the families of one release: the sequential model under DP
        # is another release, whose epsilon would add up, so it stands beside for reference.
        dp_out = family("federated_cooccurrence_dp", None)
    choice_record = {
        "candidates": sorted(fed_out["choice"]["validation"]),
        "chosen": fed_out["family"], "validation": fed_out["choice"]["validation"],
        "dp_candidates": sorted(dp_out["choice"]["validation"]),
        "dp_chosen": dp_out["family"], "dp_validation": dp_out["choice"]["validation"],
        "rule": "highest federated validation HR@10 (NDCG@10 breaks ties): each brand "
                "scores every candidate on its own validation items and sends back only "
                "the metrics, averaged by customers"}
    return {"task": "recommend", "data": opts.data, "load": report.as_dict(),
            "brands": opts.brands, "seed": opts.seed, "alpha": opts.alpha,
            "rounds": opts.rounds, "items": len(items), "users": pooled.n_users,
            "centralized": central_out, "local_only": local_out, "popularity": pop_out,
            "federated": fed_out, "federated_dp": dp_out, "family": choice_record,
            "federated_sequential": seq_out, "federated_dp_sequential": seq_dp_out,
            "per_brand_lift": per_brand_lift(fed_out["brands"], local_out["brands"],
                                             ("hr10", "ndcg10")),
            **pooled_out}


BENCHES: dict[str, Callable[[BenchOptions, ProgressFn | None], dict[str, Any]]] = {
    "churn": bench_churn, "recommend": bench_recommend}


def run_bench(task: str, opts: BenchOptions, progress: ProgressFn | None = None
              ) -> dict[str, Any]:
    """Every seed of `opts` (one split and one set of runs each), summarised: the figures
    at the top are means over seeds, `ci95` holds each one's 95% interval in the same shape,
    `per_seed` every seed's full result, and `protocol` what was chosen on what."""
    say = progress or (lambda _m: None)
    seeds = opts.seeds or (opts.seed,)
    per_seed = []
    for k, seed in enumerate(seeds):
        def tell(m: str, seed: int = seed, k: int = k) -> None:
            say(f"seed {seed} ({k + 1}/{len(seeds)}): {m}" if len(seeds) > 1 else m)
        per_seed.append(BENCHES[task](replace(opts, seed=seed, seeds=None), tell))
    mean, ci95 = summarize_seeds(per_seed)
    return {**mean, "seed": list(seeds), "protocol": protocol(task, seeds), "ci95": ci95,
            "per_seed": per_seed}
