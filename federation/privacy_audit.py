"""Membership-inference audit of a trained churn or recommendation model, run where the
rows are (the brand or the benchmark), reporting only attack metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from torch import nn

from compliance.audit.service import AuditLog
from compliance.database import Database
from compliance.errors import ComityError, InputError, NotFoundError
from federation.brand.node import BrandNode, prepare_for_run
from federation.coordinator.lineage.models import ModelVersion, TrainingRun
from federation.gate.prepare import PreparedChurn, PreparedRecommend
from federation.models.churn import build_model, predict_proba, row_losses, set_weights
from federation.models.recommend import fold_in, membership_scores
from federation.release import weights_from_blob
from federation.settings import RunSettings
from privacy.membership import black_box, dp_bound, loss_threshold


def audit_churn_model(model: nn.Module | Callable[[np.ndarray], np.ndarray],
                      x_members: np.ndarray, y_members: np.ndarray,
                      x_nonmembers: np.ndarray, y_nonmembers: np.ndarray, *,
                      epsilon: float | None = None, delta: float | None = None,
                      seed: int = 0) -> dict[str, Any]:
    """Both attacks on training rows (members) against held-back rows (non-members). `model`
    is the network, or any model's class probabilities (rows, 2) as a function (the trees)."""
    proba = ((lambda x: predict_proba(model, x)) if isinstance(model, nn.Module) else model)
    lt = loss_threshold(row_losses(proba(x_members)[:, 1], y_members),
                        row_losses(proba(x_nonmembers)[:, 1], y_nonmembers), seed=seed)
    bb = black_box(proba, x_members, y_members.astype(int),
                   x_nonmembers, y_nonmembers.astype(int), seed=seed)
    return {"epsilon": epsilon, "delta": delta, "dp_advantage_bound": dp_bound(epsilon, delta),
            "loss_threshold": lt.as_dict(), "black_box": bb.as_dict(),
            "advantage": max(lt.advantage, bb.advantage)}


def audit_recommender(item_weights: list[np.ndarray], parts: list[PreparedRecommend], *,
                      lr: float, epsilon: float | None, delta: float | None,
                      seed: int, fit_user_vectors: bool = True) -> dict[str, Any]:
    """Per customer, a trained item against the held-out one, scored by the model with the
    brand's own user vector (folded in, or computed from history for a DP model); the
    attack thresholds the standardized score."""
    members, nonmembers = [], []
    for p in parts:
        m, n = membership_scores(fold_in(item_weights, p.data, lr=lr, seed=seed,
                                         fit_user_vectors=fit_user_vectors), p.data,
                                 seed=seed)
        members.append(m)
        nonmembers.append(n)
    res = loss_threshold(-np.concatenate(members), -np.concatenate(nonmembers), seed=seed)
    return {"epsilon": epsilon, "delta": delta, "dp_advantage_bound": dp_bound(epsilon, delta),
            "score_threshold": res.as_dict(), "advantage": res.advantage}


def audit_run(db: Database, run_id: str, nodes: Sequence[BrandNode], *, actor: str = "dpo"
              ) -> dict[str, Any]:
    """Membership inference against a completed training run's model, on the brands' own
    training rows (members) and held-back rows (non-members), prepared by each brand's node
    exactly as the run prepared them; the findings (metrics only) go into the audit log and
    the DPO report. Needs every brand of the run among `nodes`: an operator who runs the
    brands' nodes (the demo) or a brand auditing with the others' consent."""
    with db.reading() as session:
        run = session.get(TrainingRun, run_id)
        if run is None:
            raise NotFoundError(f"no training run '{run_id}'")
        mv = session.scalars(select(ModelVersion).where(ModelVersion.run_id == run_id)).first()
        if run.status != "completed" or mv is None:
            raise ComityError(f"training run '{run_id}' has no model ({run.status})",
                              status_code=409)
        config = dict(run.config)
        weights = weights_from_blob(mv.weights)
    settings = RunSettings.from_mapping({**config, "brands": ",".join(config["brands"]),
                                         "consent_as_of": run.consent_as_of.isoformat()})
    by_brand = {n.brand_id: n for n in nodes}
    missing = [b for b in settings.brands if b not in by_brand]
    if missing:
        raise InputError(f"no node config for brands {missing} of run '{run_id}'",
                         column="node_config")
    parts = [prepare_for_run(settings, by_brand[brand]) for brand in settings.brands]
    epsilon, delta = config.get("dp_epsilon") or None, config.get("dp_delta")
    recs = [p for p in parts if isinstance(p, PreparedRecommend)]
    churns = [p for p in parts if isinstance(p, PreparedChurn)]
    if recs:
        findings = audit_recommender(weights, recs, lr=settings.learning_rate,
                                     epsilon=epsilon, delta=delta, seed=settings.seed,
                                     fit_user_vectors=not settings.item_statistics)
    else:
        model = build_model(churns[0].data.x_train.shape[1], settings.model_kind)
        set_weights(model, weights)
        findings = audit_churn_model(
            model, np.concatenate([p.data.x_train for p in churns]),
            np.concatenate([p.data.y_train for p in churns]),
            np.concatenate([p.data.x_test for p in churns]),
            np.concatenate([p.data.y_test for p in churns]), epsilon=epsilon, delta=delta,
            seed=settings.seed)
    findings = {"run_id": run_id, "model_version": mv.version, **findings,
                "brands": {p.brand_id: {"members": p.train_examples,
                                        "nonmembers": p.test_examples} for p in parts}}
    with db.unit_of_work() as session:
        AuditLog(session).record("privacy.audit", actor=actor, data=findings)
    return findings
