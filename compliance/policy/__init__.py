"""The policy engine: rules are YAML in policies/, the engine is code. `engine` is pure (no
database, no files); `loader` reads and validates the YAML. May import `compliance.errors`."""
