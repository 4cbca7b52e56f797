"""DPO reports: one evidence-backed document, rendered as JSON, HTML and PDF. Reads every
record (consent, requests, retention, training lineage, DP ledgers, the audit log), so it may
import `compliance`, `privacy` and `federation.coordinator.lineage`; only the demo and `api`
import it."""
