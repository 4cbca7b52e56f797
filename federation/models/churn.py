"""Plain PyTorch for the churn model: its data, model, local training, evaluation. No Flower.

Models: logistic regression and a one-hidden-layer MLP. Evaluation reports log-loss,
accuracy and ROC AUC (Mann-Whitney U formulation, Hanley & McNeil 1982).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class ChurnData:
    """One brand's churn examples (one row per customer, the privacy unit), split once into
    rows it trains on and rows it holds back for federated evaluation; the bench also gives
    each brand validation rows (`x_val`, `y_val`: empty elsewhere), on which federated
    validation chooses the model family before the test rows are scored."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    y_val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    @property
    def train_examples(self) -> int:
        return len(self.x_train)

    @property
    def test_examples(self) -> int:
        return len(self.x_test)


MODEL_KINDS = ("logistic", "mlp")
# Every churn family a run can train: the networks above and the bagged gradient-boosted
# trees of `federation.models.churn_trees` (no DP-SGD for those).
FAMILIES = (*MODEL_KINDS, "trees")


def build_model(n_features: int, kind: str = "mlp", hidden: int = 16) -> nn.Module:
    if kind == "logistic":
        return nn.Sequential(nn.Linear(n_features, 1))
    if kind == "mlp":
        return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    raise ValueError(f"unknown model kind '{kind}' ({', '.join(MODEL_KINDS)})")


def get_weights(model: nn.Module) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def set_weights(model: nn.Module, weights: Sequence[np.ndarray]) -> None:
    keys = list(model.state_dict().keys())
    if len(keys) != len(weights):
        raise ValueError(f"expected {len(keys)} weight arrays, got {len(weights)}")
    model.load_state_dict({k: torch.from_numpy(np.asarray(w)) for k, w in zip(keys, weights,
                                                                                strict=True)})


def train_local(model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float,
                batch_size: int, seed: int, proximal_mu: float = 0.0,
                after_epoch: Callable[[int], None] | None = None) -> float:
    """Local epochs of Adam on binary cross-entropy; returns the mean loss of the last epoch.
    `proximal_mu` > 0 adds FedProx's proximal term (Li et al., 2020) towards the weights the
    round started from, which keeps brands with skewed data from drifting apart.
    `after_epoch(n)` is called after each epoch n (1-based): the bench scores its validation
    rows there to choose the epoch count in one run."""
    if len(x) == 0:
        return float("nan")
    anchor = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    last = 0.0
    for epoch in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(xt), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(-1), yt[idx])
            if proximal_mu > 0:
                loss = loss + proximal_mu / 2 * sum(
                    ((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor,
                                                         strict=True))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        last = total / seen
        if after_epoch is not None:
            after_epoch(epoch + 1)
            model.train()
    return last


def bce_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """The churn loss as DP-SGD calls it: one Poisson-sampled batch of (features, label)."""
    x, y = batch
    return nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(-1), y)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats loads slowly: on first use

    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).squeeze(-1)
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, torch.from_numpy(y.astype(np.float32))).item()
        prob = torch.sigmoid(logits).numpy()
    return {"loss": loss, "accuracy": float(((prob > 0.5) == (y == 1)).mean()),
            "auc": roc_auc(y, prob)}


def evaluate_scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """`evaluate`'s metrics from probabilities (a model that is not a network: the trees)."""
    p = np.asarray(prob, dtype=np.float64)
    loss = float(row_losses(p, y).mean()) if len(y) else float("nan")
    return {"loss": loss, "accuracy": float(((p > 0.5) == (y == 1)).mean()),
            "auc": roc_auc(y, p)}


def predict_proba(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Class probabilities, shape (rows, 2): what a black-box attacker would see."""
    model.eval()
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(np.asarray(x, dtype=np.float32))).squeeze(-1))
    prob = p.numpy().astype(np.float64)
    return np.stack([1.0 - prob, prob], axis=1)


def contributions(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Each feature's contribution to each row's churn log-odds, shape (rows, features):
    gradient x input of the logit (Shrikumar et al. 2016; Ancona et al., ICLR 2018). For the
    logistic model this is exactly weight x scaled value (the logit is linear); for the MLP it
    is the first-order share of each feature. Both are measured from the scaled origin of
    `feature_matrix`, which is the same fixed point at every brand."""
    model.eval()
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32)).requires_grad_(True)
    model(xt).sum().backward()
    assert xt.grad is not None
    return (xt.grad * xt).detach().numpy().astype(np.float64)


def example_losses(model: nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Binary cross-entropy per row (the loss-threshold attack's signal)."""
    return row_losses(predict_proba(model, x)[:, 1], y)


def row_losses(prob: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Binary cross-entropy per row from churn probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(prob, dtype=np.float64), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))
