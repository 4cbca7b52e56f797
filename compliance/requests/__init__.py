"""Data-subject requests with per-jurisdiction deadlines."""
