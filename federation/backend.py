"""Ray settings for Flower's simulation runtime on a CPU-only machine."""

from __future__ import annotations

import logging
import os
from typing import Any


def simulation_backend(n_nodes: int, num_cpus: int | None = None) -> dict[str, Any]:
    """Ray settings for a CPU-only simulation with one core per virtual SuperNode; also
    quiets Flower's and Ray's logs (they would print once per node and round)."""
    for name in ("flwr", "ray"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    cpus = num_cpus or max(1, min(n_nodes, os.cpu_count() or 1))
    return {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False,
                          "logging_level": "error", "log_to_driver": False,
                          "object_store_memory": 256 * 1024 * 1024}}
