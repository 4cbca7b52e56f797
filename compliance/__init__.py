"""Compliance records and rules: consent as events, the policy engine over `policies/`, brands
and subjects, data-subject requests, retention, API tokens, the hash-chained audit log and the
DPO report. The core (`database`, `errors`, `canonical`, `audit`, `policy`, `subjects`,
`consent`, `tokens`) imports no other package of ours but `privacy.pii`; `requests` and
`retention` act through `privacy.vault`; `report` reads every record, training lineage and DP
ledgers included."""
