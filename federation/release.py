"""A model version as the coordinator releases it to the brands: the weights, the SHA-256 the
lineage recorded for them, and what serving needs of the run (its settings, its final
federated evaluation). The brand node and the coordinator both import this shape; the
weights travel and are stored as one NumPy `.npz` blob, whose digest is what lineage keeps."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from compliance.errors import InputError


def weights_blob(weights: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *weights)
    return buf.getvalue()


def weights_from_blob(blob: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def blob_digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class ModelRelease:
    model: str  # churn or recommend
    version: int
    weights_sha256: str
    weights: list[np.ndarray]
    config: dict[str, Any]  # the run's settings, as lineage stored them
    final: dict[str, Any]  # the run's final federated-evaluation metrics

    @classmethod
    def from_blob(cls, *, model: str, version: int, weights_sha256: str, blob: bytes,
                  config: dict[str, Any], final: dict[str, Any]) -> ModelRelease:
        """Refuses weights whose digest is not the one lineage recorded."""
        if blob_digest(blob) != weights_sha256:
            raise InputError(f"{model} model version {version}: the weights do not match "
                             "the SHA-256 recorded in lineage", column="weights_sha256")
        return cls(model, version, weights_sha256, weights_from_blob(blob), config, final)
