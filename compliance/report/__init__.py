"""DPO reports: one evidence-backed document, rendered as JSON and HTML."""
