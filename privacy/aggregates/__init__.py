"""Differentially private aggregates for internal services: registered datasets, a JSON query
model, OpenDP releases with cached calibration (`plan` is pure math), federated plans whose sums
go through SecAgg+, and a persistent per-period budget ledger. May import the compliance core."""
