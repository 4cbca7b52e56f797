"""Consent as append-only events; state is derived, never stored. The pure derivation
(`state`), every query (`repository`), recording and snapshots (`service`) and the sync of a
brand's records (`importer`). May import the compliance core and `privacy.pii`."""
