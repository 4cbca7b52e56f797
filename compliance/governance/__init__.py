"""Governance of the alliance as a whole: the alliance agreement's gate on runs, impact
assessments drafted, approved by a second person and required before risky processing,
cross-border transfers counted against the CAC bands, and security incidents with their
notification deadlines. Rules are in policies/ (`compliance.policy.governance`); this package
keeps the records. May import compliance.policy, .audit, .database, .errors, .subjects and
.tokens; never federation or the report."""
