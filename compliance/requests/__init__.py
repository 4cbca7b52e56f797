"""Data-subject requests with per-jurisdiction deadlines and the two-person rule. May import
the compliance core and `privacy.vault` (exports and erasure go through the vault)."""
