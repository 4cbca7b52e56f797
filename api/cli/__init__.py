"""The `comity` command line: one Typer app; each module holds the commands of one concern
(`alliance` and `admin` at the coordinator, `node` at a brand, `federation`, `pii`, `audit`,
`aggregates`) and this one wires them. Every command parses, calls one service built by the
composition root (`api.composition`), prints; errors are reported one way
(`console.reports_errors`). May import `api.composition` and, inside command bodies, any
service package."""

from __future__ import annotations

import typer

from api.cli import (
    admin,
    aggregates,
    alliance,
    audit,
    federation,
    governance,
    node,
    operations,
    overlap,
    pii,
)

app = typer.Typer(help="comity: federated models across brands, with privacy and compliance.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

app.command()(federation.demo)
app.command()(federation.bench)
app.command()(alliance.train)
app.command()(alliance.certs)
app.command()(node.score)
app.command("recommend")(node.recommend)
app.command()(admin.serve)
app.command()(admin.doctor)
app.command()(admin.report)
app.command()(aggregates.query)
app.command()(overlap.overlap)
app.add_typer(alliance.brand_app, name="brand")
app.add_typer(alliance.runs_app, name="runs")
app.add_typer(alliance.models_app, name="models")
app.add_typer(node.node_app, name="node")
app.add_typer(node.consent_app, name="consent")
app.add_typer(audit.app, name="audit")
app.add_typer(pii.app, name="pii")
app.add_typer(admin.token_app, name="token")
app.add_typer(admin.retention_app, name="retention")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.db_app, name="db")
app.add_typer(aggregates.dataset_app, name="dataset")
app.add_typer(aggregates.budget_app, name="budget")
app.add_typer(governance.agreement_app, name="agreement")
app.add_typer(governance.assessment_app, name="assessment")
app.add_typer(governance.transfer_app, name="transfer")
app.add_typer(governance.incident_app, name="incident")
app.add_typer(operations.customer_app, name="customer")
app.add_typer(operations.experiment_app, name="experiment")
app.add_typer(operations.ltv_app, name="ltv")
