"""The brand node: the Flower ClientApp and its mods (SecAgg+ masking, the wire audit), the
brand's local training and evaluation (`local`, shared with the benchmark), its answers to DP
aggregate rounds, and serving the released models at the brand. Never imports
`federation.coordinator`."""
