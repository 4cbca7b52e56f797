"""A brand's data: silos on disk and their YAML column maps, connectors for CSV, Parquet and
SQL sources, the alliance catalogue, churn and RFM features, implicit-feedback interactions,
federated tabular encoding and the demo's synthetic silos. Pure pandas over frames, plus the
readers; may import `federation.models`, `privacy` (detection, check digits) and
`compliance.errors` / `compliance.policy`."""
