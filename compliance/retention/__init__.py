"""Retention sweeps driven by policies/retention.yaml."""
