"""Model registry and training lineage: which brands, which consent snapshot, which epsilon,
which weights. Tables and the service that records them, each change with its audit event."""
