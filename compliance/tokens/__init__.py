"""API bearer tokens and roles, stored only as hashes. May import `compliance.database`,
`.errors` and `.audit`."""
