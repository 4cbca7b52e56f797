"""Masked lookups for a brand's own staff (tiered operator authorisation): sensitive fields
leave the vault only masked, or one field in clear after a second person's confirmation.
Imports the vault, the audit log and the policy set; nothing from federation."""
