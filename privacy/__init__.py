"""PII handling and differential privacy: detection (our Chinese and English recognizers in
Presidio), anonymization, keyed pseudonyms, encryption at rest with crypto-shredding (`vault`),
keys, membership-inference attacks, and DP aggregates with their budget ledger. May import the
compliance core (database, errors, policy, audit); never `compliance.requests`,
`.retention`, `.report`, `federation` or `api`. `pii` and `check_digits` import nothing."""
