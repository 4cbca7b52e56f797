"""The policy engine: rules are YAML in policies/, the engine is code."""
