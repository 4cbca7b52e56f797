"""Hash-chained, append-only audit log: the chain math, Merkle checkpoints signed with a key
handed in by the caller, inclusion proofs. May import `compliance.database`, `.errors` and
`.canonical` only."""
