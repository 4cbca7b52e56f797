"""Consent as append-only events; state is derived, never stored. The pure derivation
(`state`), every query (`repository`), recording, batches and snapshots (`service`). May import
the compliance core and `privacy.pii`."""
