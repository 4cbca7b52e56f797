"""Cross-brand overlap without disclosure (issue 26): a Diffie-Hellman private set
intersection of two brands' consented customers on the alliance's join key (`psi` is the pure
math), its size released with OpenDP noise under the budget ledger of `privacy.aggregates`,
and each run recorded (`models.OverlapRun`) and audited. May import the compliance core and
`privacy.aggregates`; the Flower rounds are injected (`federation.coordinator.overlap_round`)."""
