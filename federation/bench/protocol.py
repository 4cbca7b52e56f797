"""The bench's protocol, stated once: what is chosen on validation, what is scored on test,
how ties are broken, and how seeds are summarised; plus the measurement of each
configuration (seconds, peak memory).

Every figure of a multi-seed run is the mean over seeds with a two-sided 95% Student-t
interval, mean +- t(0.975, n - 1) * s / sqrt(n): with three seeds the interval is wide, which is
the honest width of three runs.
"""

from __future__ import annotations

import contextlib
import math
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compliance.errors import InputError

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def protocol(task: str, seeds: Sequence[int]) -> dict[str, Any]:
    """The protocol as written into every bench JSON."""
    common = {
        "seeds": list(seeds),
        "interval": "95% Student-t over seeds: mean +- t(0.975, n-1) * sd / sqrt(n); "
                    "null with one seed",
        "selection": "every hyper-parameter, epoch count and model family (the baselines' "
                     "grids, strongest_pooled) is chosen on the validation split; the test "
                     "split is scored once, after the choice, with the chosen settings "
                     "refitted on training + validation",
        "federated": "federated and federated-DP runs use the given rounds and learning "
                     "rates (nothing is chosen for them on the test split)",
        "memory": "peak_memory_mb: peak resident memory of the bench process during the "
                  "configuration (Linux VmHWM, reset before each); memory_growth_mb: that "
                  "peak less the resident memory at its start; Ray's simulation workers "
                  "are not included",
    }
    if task == "recommend":
        return {**common,
                "split": "per user, time-ordered and deduplicated: the last item is the test "
                         "item, the second-to-last the validation item (chosen on with "
                         "training = the items before it); users with fewer than three "
                         "distinct items are left out",
                "tie_rule": "same-timestamp interactions ordered by a shuffle seeded by the "
                            "run's seed (the last basket is not held out as a set: HR@10 and "
                            "NDCG@10 score one held-out item)",
                "score_ties": "against the held-out item: its rank is the number of other "
                              "unseen items scoring at least as high",
                "ranking": "full catalogue, the user's training items excluded; HR@10 and "
                           "NDCG@10",
                "epochs": "the centralized and local-only models' epoch count is chosen on "
                          "validation HR@10 among a quarter, half, three quarters and all "
                          "of --epochs",
                "strongest_pooled": "the baseline with the highest validation HR@10 "
                                    "(NDCG@10 breaks ties)"}
    return {**common,
            "split": "per brand, stratified by label: test_share of customers for test, "
                     "then test_share of the rest for validation",
            "score_ties": "ROC AUC counts tied scores as one half (Mann-Whitney U)",
            "epochs": "the centralized and local-only networks' epoch count is chosen on "
                      "validation log-loss (steadier than AUC on a brand's few rows), among "
                      "a quarter, half, three quarters and all of --epochs",
            "strongest_pooled": "the baseline with the highest validation AUC",
            "family": "federated validation (--model auto): each candidate family (logistic, "
                      "mlp, bagged XGBoost trees) is trained federated on the brands' fit "
                      "rows and every brand scores it on its own validation rows; the "
                      "coordinator takes the brands' AUCs weighted by their validation rows "
                      "(a brand whose rows hold one class left out) and keeps the best (the "
                      "simpler family on a tie), which is retrained federated on fit + "
                      "validation and scored once on test. Under DP the candidates are the "
                      "DP-SGD families (logistic, mlp), trained on fit rows under one plan "
                      "whose accountant composes every candidate's steps (epsilon covers "
                      "them all); the chosen candidate's model is the one scored, not "
                      "retrained (retraining would spend more epsilon)"}


def parse_seeds(text: str) -> tuple[int, ...]:
    """`0,1,2` as seeds; refused (naming the option) unless distinct non-negative ints."""
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"'{text}' is not a comma-separated list of integers",
                         column="--seeds") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise InputError("seeds must be one or more distinct non-negative integers",
                         column="--seeds")
    return seeds


def _status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in KiB."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def measured(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`fn()`'s result with `seconds`, `peak_memory_mb` and `memory_growth_mb` added. The
    peak is the process's resident high-water mark, reset first where Linux allows
    (`/proc/self/clear_refs`; elsewhere the process's peak so far); the growth is that peak
    less the resident memory at the start, what the configuration itself needed."""
    with contextlib.suppress(OSError):
        CLEAR_REFS.write_text("5")
    start = _status_kib("VmRSS")
    t0 = time.perf_counter()
    out = fn()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    kib = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["peak_memory_mb"] = round(kib / 1024, 1)
    out["memory_growth_mb"] = round((kib - start) / 1024, 1) if start is not None else None
    return out


# ---------------------------------------------------------------- seeds

def t_interval(values: Sequence[float]) -> list[float] | None:
    """Two-sided 95% Student-t interval of the mean; None below two values."""
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t  # scipy.stats loads slowly: on first use

    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return [round(mean - half, 6), round(mean + half, 6)]


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# Choices, not measurements: kept as chosen (a list of the seeds' choices where they
# differ), never averaged into a setting no seed chose.
CHOICES = frozenset({"chosen", "chosen_epochs", "tried", "name"})


def summarize_seeds(per_seed: Sequence[Any], *, average: bool = True) -> tuple[Any, Any]:
    """The mean over seeds of every number in the results (same shape as one result) and,
    beside it, the same shape with each number's 95% interval. Values that are not numbers,
    and choices (`CHOICES`), stay when every seed agrees and become the list of per-seed
    values when they differ; lists of unequal length are kept per seed."""
    first = per_seed[0]
    if all(isinstance(r, dict) for r in per_seed):
        keys = list(dict.fromkeys(k for r in per_seed for k in r))
        means, cis = {}, {}
        for k in keys:
            means[k], cis[k] = summarize_seeds([r.get(k) for r in per_seed],
                                               average=average and k not in CHOICES)
        return means, cis
    if (all(isinstance(r, list) for r in per_seed)
            and len({len(r) for r in per_seed}) == 1):
        pairs = [summarize_seeds([r[i] for r in per_seed], average=average)
                 for i in range(len(first))]
        return [m for m, _ in pairs], [c for _, c in pairs]
    numbers = [float(v) for v in per_seed if _number(v)]
    if average and numbers and all(_number(v) or v is None for v in per_seed):
        if len(numbers) == len(per_seed) and all(v == first for v in per_seed):
            return first, t_interval(numbers)  # a constant keeps its type (counts stay ints)
        return round(sum(numbers) / len(numbers), 6), t_interval(numbers)
    if all(v == first for v in per_seed):
        return first, None
    return list(per_seed), None
