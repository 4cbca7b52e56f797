"""The coordinator: the Flower ServerApp, the run from gate check to model version, rounds and
their one retry rule, strategies and update screening, SecAgg+ workflows, the DP statistics and
aggregate rounds, the auditing grid and lineage (`lineage/`). Never imports `federation.brand`;
holds the compliance database, which a brand node never opens."""
