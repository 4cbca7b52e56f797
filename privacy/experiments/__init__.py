"""A/B experiments registered by internal services and their readouts as DP aggregates per
arm, paid from the service's budget through the aggregates ledger. Imports privacy.aggregates,
the audit log and the policy set; nothing from federation."""
