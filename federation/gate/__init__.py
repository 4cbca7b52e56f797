"""The privacy gate and what crosses a brand boundary. `rules` holds the pure per-subject
decision and column selection (minimum necessary), `prepare` turns a brand's gated rows into
training data, `report` is the gate report's wire shape, `wire` the rules every reply is
checked against. Shared by the brand node and the coordinator; may import `federation.data`,
`federation.models` and the pure parts of `compliance` (policy engine, consent state)."""
