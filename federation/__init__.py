"""Federated training across brand silos, split by party. `brand/` runs at a brand node next
to its data; `coordinator/` runs at the alliance operator; they never import each other and
meet only in the wire shapes (`gate.report`, `gate.wire`), the run settings (`settings`) and the
released model (`release`). Below both: `gate/` (pure per-subject decisions and the wire rules),
`data/` (silos, column maps, connectors, features), `models/` (plain PyTorch/numpy). Above
both: `runtime/` (simulation and deployment of the same apps), `bench/`, `privacy_audit` and
`demo`. Nothing here imports `api`."""
