"""Consent as append-only events; state is derived, never stored."""
