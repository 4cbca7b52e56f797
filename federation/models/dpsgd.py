"""DP-SGD at the brand with Opacus, and its privacy accounting.

The privacy unit is one customer: every customer is one example of the brand's dataset,
sampled by Poisson sampling, its gradient clipped to `clip` and Gaussian noise of
`noise_multiplier * clip` added per step. Brands hold disjoint customers, so the run's
epsilon is the largest brand epsilon (parallel composition); each brand's epsilon comes
from Opacus' RDP accountant over all of its steps in all rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LossFn = Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class DpPlan:
    """What a brand needs to train privately: calibrated once, before round one."""
    noise_multiplier: float
    clip: float
    sample_rate: float
    steps_per_round: int
    rounds: int
    delta: float

    @property
    def total_steps(self) -> int:
        return self.steps_per_round * self.rounds

    def epsilon(self, steps: int | None = None) -> float:
        from opacus.accountants import RDPAccountant  # Opacus loads slowly: on first use

        acc = RDPAccountant()
        acc.history = [(self.noise_multiplier, self.sample_rate, steps or self.total_steps)]
        return float(acc.get_epsilon(self.delta))

    def report(self) -> dict[str, float | int | str]:
        """What the lineage and the DPO report keep of a private run."""
        return {"epsilon": round(self.epsilon(), 4), "delta": self.delta,
                "noise_multiplier": round(self.noise_multiplier, 4), "clip": self.clip,
                "sample_rate": round(self.sample_rate, 4), "steps": self.total_steps,
                "privacy_unit": "customer", "accountant": "opacus.rdp"}


def plan_dp(*, n_examples: int, batch_size: int, local_epochs: int, rounds: int,
            target_epsilon: float, delta: float, clip: float) -> DpPlan:
    if n_examples <= batch_size:
        raise ValueError(f"{n_examples} examples cannot be sampled in batches of "
                         f"{batch_size}: lower the batch size")
    if not 0 < delta < 1 / n_examples:
        raise ValueError(f"delta {delta} must be below 1/n = {1 / n_examples:.2e}")
    from opacus.accountants.utils import get_noise_multiplier

    q = batch_size / n_examples
    steps = local_epochs * max(1, round(1 / q))
    sigma = get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta,
                                 sample_rate=q, steps=steps * rounds, accountant="rdp")
    return DpPlan(float(sigma), clip, q, steps, rounds, delta)


def train_dp(model: nn.Module, tensors: Sequence[torch.Tensor], loss_fn: LossFn, *,
             plan: DpPlan, lr: float, seed: int) -> float:
    """One round of local DP-SGD: exactly `plan.steps_per_round` Poisson-sampled steps.
    Returns the mean loss. `model`'s parameters are updated in place; pass a fresh model
    each round, since Opacus hooks into the module it wraps."""
    from opacus import PrivacyEngine

    gen = torch.Generator().manual_seed(seed)
    data = TensorDataset(*tensors)
    loader = DataLoader(data, batch_size=max(1, round(plan.sample_rate * len(data))),
                        generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    engine = PrivacyEngine(accountant="rdp", secure_mode=False)
    private, opt, loader = engine.make_private(
        module=model, optimizer=opt, data_loader=loader, noise_multiplier=plan.noise_multiplier,
        max_grad_norm=plan.clip, poisson_sampling=True, noise_generator=gen)
    private.train()
    total, n, steps = 0.0, 0, 0
    while steps < plan.steps_per_round:
        for batch in loader:
            if steps >= plan.steps_per_round:
                break
            steps += 1
            if len(batch[0]) == 0:  # an empty Poisson draw: accounted for, nothing to do
                continue
            opt.zero_grad()
            loss = loss_fn(private, batch)
            loss.backward()
            opt.step()
            total += float(loss.item())
            n += 1
    return total / max(n, 1)
