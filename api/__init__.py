"""The edges: the FastAPI app with its routers and dependencies, and the `comity` command line.
Both are thin over the services, built once in the composition root (`composition`). May
import every package; none imports it."""
