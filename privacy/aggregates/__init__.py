"""Differentially private aggregates for internal services: registered datasets, a JSON query
model, OpenDP releases with cached calibration, and a persistent per-period budget ledger."""
