"""HTTP API and the `comity` command line: thin edges over the services."""
