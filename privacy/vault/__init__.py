"""Encryption at rest with per-subject data keys; deleting a key erases the subject. Keys live
in the key store database. May import `privacy.keys` and `compliance.database`/`.errors`."""
