"""What a brand does with its own data in one round, one function per path: churn with plain
local epochs or DP-SGD, the recommender's shared item side, the noisy item statistics of a
recommender under DP, and federated evaluation. The product's ClientApp and the benchmark's
both call `train` and `evaluate` (through `handle_train` / `handle_evaluate`), so the bench
measures exactly what the product runs. Only weights, counts and metrics come back.

User vectors of the recommender stay in the node's state (`context.state`), one set per run,
and never leave the brand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict

from federation.brand.secagg import is_legacy, legacy_evaluate, legacy_train
from federation.models.churn import (
    ChurnData,
    bce_loss,
    build_model,
    evaluate,
    evaluate_scores,
    get_weights,
    set_weights,
    train_local,
)
from federation.models.churn_trees import (
    TREES_KIND,
    TreeParams,
    from_array,
    grow,
    predict,
    to_array,
)
from federation.models.cooccurrence import STAGES as COOCCURRENCE_STAGES
from federation.models.cooccurrence import Cooccurrence, cooccurrence_plan, stage_sum
from federation.models.cooccurrence import validate as validate_candidates
from federation.models.dpsgd import DpPlan, train_dp
from federation.models.item_statistics import (
    noise_share,
    noisy,
    plan_statistics,
    popularity_sum,
    transition_sum,
)
from federation.models.recommend import (
    RecData,
    SequentialMF,
    assemble,
    build_recommender,
    evaluate_ranking,
    fold_in,
    membership_scores,
    popularity_scores,
    rank_metrics,
    train_recommender,
)
from federation.settings import (
    CANDIDATES_KEY,
    LIFT_KEY,
    STAGE_KEY,
    STD_KEY,
    TOP_KEY,
    RunSettings,
    is_statistics_round,
)

LocalData = ChurnData | RecData
Trained = tuple[list[np.ndarray], int, dict[str, float]]
Evaluated = tuple[float, int, dict[str, Any]]
# How a ClientApp finds its data for a round: the run's settings and the round's config in.
DataFn = Callable[[RunSettings, Mapping[str, Any]], LocalData]
MEMBERSHIP_KEY = "membership-histograms"  # the bench asks evaluation for attack scores too
# Federated validation: churn evaluation scores the brand's validation rows, not its test rows.
EVAL_SPLIT_KEY = "eval-split"


def train_churn(settings: RunSettings, weights: list[np.ndarray], data: ChurnData, *,
                seed: int, proximal_mu: float = 0.0) -> Trained:
    """Local epochs of Adam from the global weights (FedProx's proximal term when asked)."""
    model = build_model(data.x_train.shape[1], settings.model_kind)
    set_weights(model, weights)
    loss = train_local(model, data.x_train, data.y_train, epochs=settings.local_epochs,
                       lr=settings.learning_rate, batch_size=settings.batch_size, seed=seed,
                       proximal_mu=proximal_mu)
    return get_weights(model), data.train_examples, {"train-loss": loss}


def train_churn_dp(settings: RunSettings, weights: list[np.ndarray], data: ChurnData, *,
                   plan: DpPlan, seed: int) -> Trained:
    """One round of DP-SGD (Abadi et al., 2016) at the plan the coordinator calibrated."""
    model = build_model(data.x_train.shape[1], settings.model_kind)
    set_weights(model, weights)
    loss = train_dp(model, (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)),
                    bce_loss, plan=plan, lr=settings.dp_learning_rate, seed=seed)
    return get_weights(model), data.train_examples, {"train-loss": loss}


def train_churn_trees(settings: RunSettings, weights: list[np.ndarray], data: ChurnData, *,
                      seed: int) -> Trained:
    """Bagged boosting (`federation.models.churn_trees`): one new tree grown on the brand's
    rows from the global model; only that tree goes back. No DP-SGD plan applies to
    trees: a private run asking for them is refused rather than trained without noise."""
    if settings.dp_plan is not None:
        raise ValueError("gradient-boosted trees have no DP-SGD path: a private churn run "
                         "trains logistic or mlp")
    trees = grow(from_array(weights[0]), data.x_train, data.y_train,
                 TreeParams(), seed=seed)
    return [to_array(trees)], data.train_examples, {}


def _users_key(settings: RunSettings) -> str:
    """Each run keeps its own user vectors: a DP run must not start from the vectors a
    non-private run trained in the same node."""
    return f"users-{settings.run_id}"


def recommender(settings: RunSettings, state: RecordDict, items: list[np.ndarray],
                data: RecData) -> SequentialMF:
    """The shared item side from the coordinator; this brand's user vectors from its node
    state, where they stay (for a model released as item statistics, computed from each
    customer's history instead)."""
    if settings.item_statistics:
        return fold_in(items, data, lr=settings.learning_rate, seed=settings.seed,
                       fit_user_vectors=False)
    users = state.array_records.get(_users_key(settings))
    return assemble(data.n_users, items,
                    users.to_numpy_ndarrays()[0] if users is not None else None)


def train_recommender_round(settings: RunSettings, state: RecordDict,
                            weights: list[np.ndarray], data: RecData, *, seed: int) -> Trained:
    """BPR epochs on the brand's interactions; the item side goes back, the user vectors
    stay in the node state. One example per customer (the privacy unit)."""
    model = recommender(settings, state, weights, data)
    loss = train_recommender(model, data, epochs=settings.local_epochs,
                             lr=settings.learning_rate, seed=seed)
    state[_users_key(settings)] = ArrayRecord([model.users.weight.detach().numpy().copy()])
    return model.item_weights(), data.n_users, {"train-loss": loss}


def answer_item_statistics(config: Mapping[str, Any], data: RecData, *, min_std: float = 0.0,
                           private: bool = True) -> Trained:
    """The brand's sum plus its share of the noise, at weight 1 (so SecAgg+'s mean times the
    brands reporting is the sum). `min_std` is the least noise the brand's own reading of the
    run settings allows: a coordinator asking for less is refused. `private` False: a
    co-occurrence run without DP, whose exact sums leave only masked by SecAgg+ (or as its
    plain updates would, with too few brands for it)."""
    std = float(cast(float, config[STD_KEY]))
    if std < min_std * (1 - 1e-9):
        raise ValueError(f"item statistics asked with noise {std:.4g}, below the "
                         f"{min_std:.4g} this run's epsilon needs")
    stage = str(config[STAGE_KEY])
    if stage == "popularity":
        total = popularity_sum(data, scaled=private)
    else:
        top = np.asarray([int(t) for t in str(config[TOP_KEY]).split(",")], dtype=np.int64)
        total = (stage_sum(stage, data, top, private=private) if stage in COOCCURRENCE_STAGES
                 else transition_sum(data, top))
    return [noisy(total, std) if private else total], 1, {}


def least_noise(settings: RunSettings, config: Mapping[str, Any], *, secure: bool) -> float:
    """The noise std this brand must add to a statistics round, from its own reading of the
    run: the full sigma outside SecAgg+, its share sigma/sqrt(n) inside."""
    if settings.cooccurrence:
        if settings.dp_epsilon <= 0:
            return 0.0
        plan = cooccurrence_plan(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                                 n_items=settings.items)
    elif not settings.item_statistics:
        raise ValueError("item statistics are asked of private recommendation runs only")
    else:
        plan = plan_statistics(target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                               n_items=settings.items)
    sigma = plan.pop_sigma if config[STAGE_KEY] == "popularity" else plan.pair_sigma
    return noise_share(sigma, len(settings.brands), secure=secure)


def train(settings: RunSettings, state: RecordDict, weights: list[np.ndarray],
          config: Mapping[str, Any], data: LocalData, *, secure: bool = False) -> Trained:
    """One train round, whichever path it is. `secure`: the round goes through SecAgg+, so a
    noise share is enough for item statistics."""
    if is_statistics_round(config):
        if not isinstance(data, RecData):
            raise ValueError("item statistics are asked of private recommendation runs only")
        return answer_item_statistics(
            config, data, min_std=least_noise(settings, config, secure=secure),
            private=not (settings.cooccurrence and settings.dp_epsilon <= 0))
    server_round = (int(cast(int, config.get("server-round", 0)))
                    + int(cast(int, config.get("round-offset", 0))))
    seed = settings.seed * 1000 + server_round
    if isinstance(data, RecData):
        return train_recommender_round(settings, state, weights, data, seed=seed)
    if settings.model_kind == TREES_KIND:
        return train_churn_trees(settings, weights, data, seed=seed)
    plan = settings.dp_plan
    if plan is not None:
        return train_churn_dp(settings, weights, data, plan=plan, seed=seed)
    return train_churn(settings, weights, data, seed=seed,
                       proximal_mu=float(cast(float, config.get("proximal-mu", 0.0))))


def evaluate_churn(settings: RunSettings, weights: list[np.ndarray], data: ChurnData, *,
                   validation: bool = False) -> Evaluated:
    """Log-loss, accuracy and AUC on the brand's held-back rows (`validation`: its validation
    rows, where federated validation chooses the family)."""
    x, y = (data.x_val, data.y_val) if validation else (data.x_test, data.y_test)
    if validation and len(y) == 0:
        raise ValueError("federated validation asked of a brand without validation rows")
    if settings.model_kind == TREES_KIND:
        m = evaluate_scores(y, predict(from_array(weights[0]), x))
    else:
        model = build_model(x.shape[1], settings.model_kind)
        set_weights(model, weights)
        m = evaluate(model, x, y)
    return m["loss"], len(y), {"accuracy": m["accuracy"], "auc": m["auc"]}


def evaluate_recommender(settings: RunSettings, state: RecordDict, weights: list[np.ndarray],
                         data: RecData, *, membership: bool = False) -> Evaluated:
    """HR@10 and NDCG@10 on each customer's held-out item, beside the same model's
    non-personalized list on the same items (a model that does not beat it should not serve
    personalized lists). `membership`: also the binned scores of a membership-inference
    attack, as shares (the strategy averages metrics by examples, which turns per-brand
    shares back into the pooled distribution)."""
    model = recommender(settings, state, weights, data)
    r = evaluate_ranking(model, data)
    plain = rank_metrics(popularity_scores(data, model.item_bias.weight.detach()
                                           .numpy()[:, 0]), data)
    metrics: dict[str, Any] = {**r, "hr10_nonpersonalized": plain["hr10"]}
    if membership:
        from privacy.membership import score_histogram  # scikit-learn: only the bench asks

        member, nonmember = membership_scores(model, data, seed=settings.seed)
        metrics["mia-members"] = (score_histogram(member) / max(len(member), 1)).tolist()
        metrics["mia-nonmembers"] = (score_histogram(nonmember)
                                     / max(len(nonmember), 1)).tolist()
    return 1.0 - r["hr10"], data.n_users, metrics


def evaluate_cooccurrence(weights: list[np.ndarray], config: Mapping[str, Any],
                          data: RecData) -> Evaluated:
    """Federated validation of a co-occurrence recommender: HR@10 and NDCG@10 of every
    candidate the coordinator sent, on this brand's held-out items (its validation items in
    a validation round), from the released statistics; nothing else goes back."""
    if CANDIDATES_KEY not in config:
        raise ValueError("a co-occurrence recommender is evaluated on given candidates")
    candidates = json.loads(str(config[CANDIDATES_KEY]))
    figures = validate_candidates(Cooccurrence.from_arrays(weights), data, candidates)
    metrics: dict[str, Any] = {}
    for k, f in enumerate(figures):
        metrics[f"cand-{k}-hr10"], metrics[f"cand-{k}-ndcg10"] = f["hr10"], f["ndcg10"]
    return 1.0 - max(f["hr10"] for f in figures), data.n_users, metrics


def local_only_churn(settings: RunSettings, data: ChurnData) -> float:
    """AUC on the brand's test rows of a model trained on its own fit rows alone: the same
    network for as many epochs as the federated model's rounds gave it (bagged trees: the
    logistic model, cheap). No DP: a brand going alone releases nothing, so adds no noise."""
    kind = "logistic" if settings.model_kind == TREES_KIND else settings.model_kind
    torch.manual_seed(settings.seed)
    model = build_model(data.x_train.shape[1], kind)
    train_local(model, data.x_train, data.y_train,
                epochs=settings.rounds * settings.local_epochs, lr=settings.learning_rate,
                batch_size=settings.batch_size, seed=settings.seed)
    return float(evaluate(model, data.x_test, data.y_test)["auc"])


def local_only_recommender(settings: RunSettings, data: RecData) -> dict[str, float]:
    """HR@10 and NDCG@10 on the brand's held-out items of the same recommender family trained
    on this brand's interactions alone, for as many epochs as the federated rounds gave it."""
    torch.manual_seed(settings.seed)
    model = build_recommender(data.n_users, settings.items, settings.dim)
    train_recommender(model, data, epochs=settings.rounds * settings.local_epochs,
                      lr=settings.learning_rate, seed=settings.seed)
    return evaluate_ranking(model, data)


def value_of_joining(settings: RunSettings, state: RecordDict, weights: list[np.ndarray],
                     data: LocalData) -> Evaluated:
    """The federated model's figures and a local-only model's, side by side, on the same
    held-out customers at this brand; only these metrics go back (no rows, no weights)."""
    if settings.cooccurrence:
        raise ValueError("a co-occurrence recommender's value of joining is not measured")
    if isinstance(data, RecData):
        fed = evaluate_ranking(recommender(settings, state, weights, data), data)
        alone = local_only_recommender(settings, data)
        return 1.0 - fed["hr10"], data.n_users, {
            "hr10": fed["hr10"], "ndcg10": fed["ndcg10"],
            "local_only_hr10": alone["hr10"], "local_only_ndcg10": alone["ndcg10"]}
    loss, n, m = evaluate_churn(settings, weights, data)
    return loss, n, {"auc": m["auc"], "local_only_auc": local_only_churn(settings, data)}


def evaluate_local(settings: RunSettings, state: RecordDict, weights: list[np.ndarray],
                   config: Mapping[str, Any], data: LocalData) -> Evaluated:
    if config.get(LIFT_KEY):
        return value_of_joining(settings, state, weights, data)
    if isinstance(data, RecData) and settings.cooccurrence:
        return evaluate_cooccurrence(weights, config, data)
    if isinstance(data, RecData):
        return evaluate_recommender(settings, state, weights, data,
                                    membership=bool(config.get(MEMBERSHIP_KEY, False)))
    return evaluate_churn(settings, weights, data,
                          validation=config.get(EVAL_SPLIT_KEY) == "validation")


# ---------------------------------------------------------------- messages in, messages out

SideFn = Callable[[dict[str, Any]], Trained]


def _weights(msg: Message) -> list[np.ndarray]:
    return msg.content.array_records["arrays"].to_numpy_ndarrays()


def handle_train(msg: Message, context: Context, data: DataFn, *,
                 aggregate: tuple[Callable[[Mapping[str, Any]], bool], SideFn] | None = None
                 ) -> Message:
    """A train message in either format: legacy FitIns (a SecAgg+ round, which may instead
    carry another secure sum, `aggregate` = (is it one, answer it)) or the Message API."""
    if is_legacy(msg.content):
        def secure(cfg: dict[str, Any], w: list[np.ndarray]) -> Trained:
            if aggregate is not None and aggregate[0](cfg):
                return aggregate[1](cfg)
            settings = RunSettings.from_mapping(cfg)
            return train(settings, context.state, w, cfg, data(settings, cfg), secure=True)
        return legacy_train(msg, secure)
    config = msg.content.config_records["config"]
    settings = RunSettings.from_mapping(config)
    weights, n, metrics = train(settings, context.state, _weights(msg), config,
                                data(settings, config))
    return Message(RecordDict({"arrays": ArrayRecord(weights),
                               "metrics": MetricRecord({**metrics, "num-examples": n})}),
                   reply_to=msg)


def handle_evaluate(msg: Message, context: Context, data: DataFn) -> Message:
    if is_legacy(msg.content):
        def legacy(cfg: dict[str, Any], w: list[np.ndarray]) -> Evaluated:
            settings = RunSettings.from_mapping(cfg)
            return evaluate_local(settings, context.state, w, cfg, data(settings, cfg))
        return legacy_evaluate(msg, legacy)
    config = msg.content.config_records["config"]
    settings = RunSettings.from_mapping(config)
    loss, n, metrics = evaluate_local(settings, context.state, _weights(msg), config,
                                      data(settings, config))
    return Message(RecordDict({"metrics": MetricRecord({"eval-loss": loss, **metrics,
                                                        "num-examples": n})}), reply_to=msg)
