"""A cross-brand overlap on the deployment runtime: `flwr run` to the SuperLink with the
overlap's strategy (`federation.gate.overlap.OVERLAP_STRATEGIES`), followed to the end; the
ServerApp leaves the counts in the coordinator's `COMITY_OVERLAP_DIR`, read and deleted here."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from federation.brand.supernode import executable
from federation.errors import FederationError
from federation.gate.overlap import RESULTS_ENV
from federation.runtime.deployment import FEDERATION, run_args
from federation.runtime.training import (
    PROJECT_ROOT,
    check_reachable,
    flwr_home,
    superlink_address,
)
from privacy.overlap.schemas import PsiCounts


def overlap_on_deployment(run_id: str, brands: tuple[str, str], as_of: str, exact: bool, *,
                          app_dir: Path = PROJECT_ROOT, home: Path | None = None,
                          timeout: float = 3600.0) -> PsiCounts:
    home = flwr_home(home)
    check_reachable(superlink_address(home, FEDERATION))
    config = {"run-id": run_id, "brands": ",".join(brands), "consent-as-of": as_of,
              "purpose": "cross_brand_sharing", "strategy": "psi-exact" if exact else "psi"}
    try:
        proc = subprocess.run([executable("flwr"), *run_args(app_dir, config)],
                              capture_output=True, text=True, timeout=timeout, cwd=app_dir,
                              env={**os.environ, "FLWR_HOME": str(home)})
    except subprocess.TimeoutExpired:
        raise FederationError(f"overlap {run_id} did not finish in {timeout:.0f} s") from None
    path = Path(os.environ.get(RESULTS_ENV, ".comity/overlaps")) / f"{run_id}.json"
    if not path.exists():
        raise FederationError(f"overlap {run_id} left no counts (flwr exited "
                              f"{proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
    body = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    return PsiCounts(**body)
