"""Membership inference: does a trained model give away who was in its training data?

Two attacks on members (training rows) against non-members (held-back rows of the same
population), both reported as ROC AUC and membership advantage, TPR - FPR:

- Loss threshold (Yeom, Giacomelli, Fredrikson, Jha, "Privacy Risk in Machine Learning",
  CSF 2018): a row is called a member when the model's loss on it is below a threshold. The
  advantage is taken at the best threshold, as Yeom et al. define it, and also with the
  threshold chosen on one half and measured on the other, which removes the optimism of
  picking the threshold on the data it is scored on.
- Black box (Shokri et al., S&P 2017, as implemented by the Adversarial Robustness Toolbox's
  `MembershipInferenceBlackBox`): an attack model (random forest) learns membership from the
  model's predicted probabilities and the true label on half the rows, and is scored on the
  other half.

For a model trained with (epsilon, delta)-DP, any attack's advantage is at most
e^epsilon - 1 + 2 delta in theory (Yeom et al., Theorem 1); the measured value shows how much
of that slack an actual attacker can use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

PredictFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class AttackResult:
    attack: str
    auc: float
    advantage: float
    members: int
    nonmembers: int
    advantage_holdout: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def _balanced(members: np.ndarray, nonmembers: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Index sets of equal size, so that AUC and advantage are read at a 50% prior."""
    n = min(len(members), len(nonmembers))
    if n < 10:
        raise ValueError(f"need at least 10 members and 10 non-members, got {n}")
    return rng.choice(len(members), n, replace=False), rng.choice(len(nonmembers), n,
                                                                   replace=False)


def _advantage(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return float(tpr[best] - fpr[best]), float(thresholds[best])


def loss_threshold(member_loss: np.ndarray, nonmember_loss: np.ndarray, *, seed: int = 0
                   ) -> AttackResult:
    rng = np.random.default_rng(seed)
    mi, ni = _balanced(member_loss, nonmember_loss, rng)
    m, n = np.asarray(member_loss)[mi], np.asarray(nonmember_loss)[ni]
    labels = np.concatenate([np.ones(len(m)), np.zeros(len(n))])
    scores = -np.concatenate([m, n])
    advantage, _ = _advantage(labels, scores)
    half = rng.permutation(len(labels))
    fit, held = half[: len(half) // 2], half[len(half) // 2:]
    _, threshold = _advantage(labels[fit], scores[fit])
    called = scores[held] >= threshold
    truth = labels[held] == 1
    holdout = float(called[truth].mean() - called[~truth].mean())
    return AttackResult("loss_threshold", float(roc_auc_score(labels, scores)), advantage,
                        len(m), len(n), holdout)


def black_box(predict: PredictFn, x_members: np.ndarray, y_members: np.ndarray,
              x_nonmembers: np.ndarray, y_nonmembers: np.ndarray, *, seed: int = 0
              ) -> AttackResult:
    """`predict` returns class probabilities, shape (rows, classes); `y_*` are class ids."""
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import BlackBoxClassifier

    rng = np.random.default_rng(seed)
    mi, ni = _balanced(x_members, x_nonmembers, rng)
    xm, ym, xn, yn = x_members[mi], y_members[mi], x_nonmembers[ni], y_nonmembers[ni]
    classes = predict(xm[:1]).shape[1]
    est = BlackBoxClassifier(predict, input_shape=xm.shape[1:], nb_classes=classes)
    onehot = np.eye(classes)
    h = len(xm) // 2
    attack = MembershipInferenceBlackBox(est, input_type="prediction",
                                         attack_model_type="rf")
    np.random.seed(seed)  # the random forest inside ART draws from numpy's global state
    attack.fit(x=xm[:h], y=onehot[ym[:h]], test_x=xn[:h], test_y=onehot[yn[:h]])
    x_eval = np.concatenate([xm[h:], xn[h:]])
    y_eval = onehot[np.concatenate([ym[h:], yn[h:]])]
    probs = attack.infer(x_eval, y_eval, probabilities=True)
    scores = np.asarray(probs).reshape(len(x_eval), -1)[:, -1]
    labels = np.concatenate([np.ones(len(xm) - h), np.zeros(len(xn) - h)])
    advantage, _ = _advantage(labels, scores)
    return AttackResult("black_box_rf", float(roc_auc_score(labels, scores)), advantage,
                        len(xm) - h, len(xn) - h)


def dp_bound(epsilon: float | None, delta: float | None) -> float | None:
    """The largest advantage (epsilon, delta)-DP allows any attacker (Yeom et al., Thm. 1)."""
    if epsilon is None:
        return None
    return min(1.0, float(np.expm1(epsilon)) + 2 * (delta or 0.0))


MEMBERSHIP_BINS = np.linspace(-6.0, 6.0, 121)  # public edges for standardized scores


def score_histogram(scores: np.ndarray) -> np.ndarray:
    """Counts of standardized membership scores in fixed public bins: an aggregate that can
    leave a brand where per-row scores cannot."""
    clipped = np.clip(scores, MEMBERSHIP_BINS[0], MEMBERSHIP_BINS[-1])
    return np.histogram(clipped, bins=MEMBERSHIP_BINS)[0]


def threshold_from_histograms(members: np.ndarray, nonmembers: np.ndarray) -> AttackResult:
    """The score-threshold attack read off pooled histograms (higher score = member): ROC
    points at every bin edge; AUC counts ties within a bin as one half."""
    m, n = np.asarray(members, dtype=float), np.asarray(nonmembers, dtype=float)
    if m.sum() < 10 or n.sum() < 10:
        raise ValueError("need at least 10 members and 10 non-members")
    pm, pn = m / m.sum(), n / n.sum()
    tpr = np.concatenate([[0.0], np.cumsum(pm[::-1])])
    fpr = np.concatenate([[0.0], np.cumsum(pn[::-1])])
    auc = float(np.sum(pm * (np.cumsum(pn) - pn / 2)))
    return AttackResult("score_threshold", auc, float(np.max(tpr - fpr)), int(m.sum()),
                        int(n.sum()))


def chance_advantage(members: int, nonmembers: int) -> float:
    """The best-threshold advantage that two same-distribution samples of these sizes exceed
    only 5% of the time (two-sample Kolmogorov-Smirnov critical value)."""
    return float(1.358 * np.sqrt((members + nonmembers) / (members * nonmembers)))
