"""Brands and data subjects (pseudonymous keys only; raw PII stays at the brand). May import
`compliance.database` and `compliance.audit`."""
