"""Federated training across brand silos: Flower apps, features, models, lineage."""
