"""Consent, the policy engine over policies/, audit log and DPO reports."""
