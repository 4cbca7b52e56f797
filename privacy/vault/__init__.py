"""Encryption at rest with per-subject data keys; deleting a key erases the subject."""
