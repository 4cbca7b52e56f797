"""`comity overlap`: how many customers two brands share, by private set intersection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.console import reports_errors
from api.composition import existing_services


@reports_errors(ValueError)
def overlap(
    brands: Annotated[str, typer.Option(help="REQUESTING,OTHER: the two brands, the one "
                                             "that asks first")],
    exact: Annotated[bool, typer.Option(help="Give the intersection itself to the "
                                             "requesting brand (only where the agreement's "
                                             "join key allows it)")] = False,
    epsilon: Annotated[float, typer.Option(help="Privacy loss of the noisy size "
                                                "(cardinality mode)")] = 1.0,
    requester: Annotated[str, typer.Option(help="Whose ledger pays for the noisy size "
                                                "(service:<name> or dpo)")] = "dpo",
    simulation: Annotated[bool, typer.Option(help="Flower's simulation runtime, the brands' "
                                                  "node configs in COMITY_SIMULATION_NODES, "
                                                  "instead of the SuperLink in FLWR_HOME")
                          ] = False,
    app_dir: Annotated[Path | None, typer.Option(help="The Flower app (default: this "
                                                      "project)")] = None,
) -> None:
    """PSI of two brands' customers with separate consent for cross_brand_sharing, on the
    alliance agreement's join key, on the deployment runtime unless --simulation; prints the
    run as JSON (POST /v1/overlaps' answer). Default: the size with DP noise, charged to
    the requester's budget.
    Example: comity overlap --brands lumen-tea,north-outfitters --epsilon 0.5"""
    from privacy.overlap.schemas import OverlapIn

    body = OverlapIn(brands=[b.strip() for b in brands.split(",")], exact=exact,
                     epsilon=epsilon)
    services = existing_services()
    svc = services.overlaps if simulation else services.deployed_overlaps(app_dir)
    answer = svc.overlap(requester, body, actor="cli")
    print(answer.model_dump_json(indent=2))
