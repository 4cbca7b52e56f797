"""A brand node's prepared rows for one run, kept in its own state directory for the rest of
the run. Flower's deployment runtime starts a fresh ClientApp process for every message, and
without this each message would sync consent, gate and build features again. Keeping the
rows the gate reported on is also what the coordinator verified: every round trains on exactly
the rows of the run's gate report, even if consent records change mid-run.

Files are the brand's own (pseudonymized, gated rows), mode 0600, keyed by a digest of the
run's settings; only the newest few are kept."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from federation.brand.local import LocalData
from federation.gate.report import GateReport
from federation.models.churn import ChurnData
from federation.models.recommend import RecData
from federation.settings import RunSettings

KEEP = 8
# What a brand's prepared rows depend on (not the training knobs a coordinator sets later).
DATA_FIELDS = ("run_id", "brands", "consent_as_of", "model", "purpose", "items", "cutoff",
               "horizon_days", "seed", "ltv_feature")


def _key(settings: RunSettings) -> str:
    record = {k: getattr(settings, k) for k in DATA_FIELDS}
    return hashlib.sha256(json.dumps(record, default=str).encode()).hexdigest()[:24]


class RunCache:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "runs"

    def _paths(self, settings: RunSettings) -> tuple[Path, Path]:
        stem = self.directory / f"{settings.run_id[:40]}-{_key(settings)}"
        return stem.with_suffix(".json"), stem.with_suffix(".npz")

    def load(self, settings: RunSettings) -> tuple[GateReport, LocalData] | None:
        meta, arrays = self._paths(settings)
        if not (meta.exists() and arrays.exists()):
            return None
        report = GateReport(**{**json.loads(meta.read_text()),
                               "categories": tuple(json.loads(meta.read_text())["categories"])})
        with np.load(arrays, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        local: LocalData = (RecData.from_arrays(data) if settings.model == "recommend"
                            else ChurnData(**data))
        return report, local

    def save(self, settings: RunSettings, report: GateReport, data: LocalData) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        meta, arrays = self._paths(settings)
        payload = data.to_arrays() if isinstance(data, RecData) else asdict(data)
        tmp = arrays.with_suffix(".tmp.npz")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]
        os.replace(tmp, arrays)
        tmp_meta = meta.with_suffix(".tmp")
        with open(os.open(tmp_meta, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            json.dump(asdict(report), fh)
        os.replace(tmp_meta, meta)
        for old in sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime
                          )[:-KEEP]:
            old.unlink(missing_ok=True)
            old.with_suffix(".npz").unlink(missing_ok=True)
