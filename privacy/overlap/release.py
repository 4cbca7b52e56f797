"""The noisy size of an overlap: OpenDP's integer Laplace (a discrete Laplace, Canonne,
Kamath and Steinke 2020) on a count of sensitivity 1, its scale found for the requested
epsilon by `binary_search_param`. No hand-rolled calibration."""

from __future__ import annotations

from functools import lru_cache

import opendp.prelude as dp

from privacy.aggregates.federated import calibrated_laplace

dp.enable_features("contrib")
SENSITIVITY = 1  # one person: at most one distinct key at each brand, so the size moves by 1


@lru_cache(maxsize=64)
def _mechanism(epsilon: float) -> tuple[dp.Measurement, float]:
    return calibrated_laplace(SENSITIVITY, epsilon,
                              (dp.atom_domain(T=int), dp.absolute_distance(T=int)))


def noisy_size(size: int, epsilon: float) -> tuple[int, float, float]:
    """(noisy size clamped at 0, noise scale, 95% accuracy): clamping is post-processing."""
    m, scale = _mechanism(float(epsilon))
    return max(0, int(m(int(size)))), scale, float(dp.laplacian_scale_to_accuracy(scale, 0.05))
