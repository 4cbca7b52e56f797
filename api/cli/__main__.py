"""`python -m api.cli`: the same command line as the `comity` console script."""

from api.cli import app

app(prog_name="comity")
