"""Model registry and training lineage: which brands, which consent snapshot."""
