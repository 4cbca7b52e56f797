"""Retention sweeps driven by policies/retention.yaml, each batch one transaction with its
audit event. May import the compliance core and `privacy.vault` (erasure is crypto-shredding)."""
