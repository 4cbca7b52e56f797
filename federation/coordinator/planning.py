"""What the coordinator decides before round one: the DP-SGD plan every brand trains with,
and the global model the first round starts from."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from federation.data.features import churn_features
from federation.errors import FederationError
from federation.models.churn import build_model, get_weights
from federation.models.churn_trees import TREES_KIND, empty_model
from federation.models.dpsgd import DpPlan, plan_dp
from federation.models.recommend import build_recommender
from federation.settings import RunSettings


def plan_private_training(settings: RunSettings, smallest: int
                          ) -> tuple[RunSettings, DpPlan | None]:
    """Calibrate DP-SGD once, from the smallest brand (`smallest` training examples): every
    brand samples at that brand's rate for the same steps, so each brand's accountant reaches
    the run's epsilon (brands hold disjoint customers: parallel composition). Returns the
    settings the brands train with, and the plan (its accountant also counts retried
    rounds)."""
    if settings.dp_epsilon <= 0:
        return settings, None
    try:
        plan = plan_dp(n_examples=smallest, batch_size=max(1, min(settings.dp_batch_size,
                                                                    smallest // 4)),
                       local_epochs=settings.local_epochs, rounds=settings.rounds,
                       target_epsilon=settings.dp_epsilon, delta=settings.dp_delta,
                       clip=settings.dp_clip)
    except ValueError as exc:
        raise FederationError(f"DP-SGD cannot be planned: {exc}") from exc
    return replace(settings, dp_noise_multiplier=plan.noise_multiplier,
                   dp_sample_rate=plan.sample_rate,
                   dp_steps_per_round=plan.steps_per_round), plan


def initial_weights(settings: RunSettings) -> list[Any]:
    """Round one's global model: the churn network, or the shared item side of the
    recommender (user vectors are the brands' own and never part of it)."""
    torch.manual_seed(settings.seed)
    if settings.model_kind == TREES_KIND and settings.model == "churn":
        return empty_model()  # bagged trees start from none (`federation.models.churn_trees`)
    if settings.model == "recommend":
        return build_recommender(1, settings.items, settings.dim).item_weights()
    return get_weights(build_model(len(churn_features(settings.ltv_feature)),
                                   settings.model_kind))
