"""API bearer tokens and roles."""
