"""`comity audit`: the hash-chained audit log, its signed checkpoints and inclusion proofs, and
the membership-inference audit of a trained model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.console import err, reports_errors
from api.composition import default_services, existing_services

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
@reports_errors()
def verify() -> None:
    """Recompute the hash chain; exit 1 and name the first bad event if it is broken.
    Example: comity audit verify"""
    from compliance.audit.service import AuditLog

    with existing_services().db.reading() as session:
        res = AuditLog(session).verify()
    print(json.dumps({"verified": res.verified, "events": res.events, "head": res.head_hash,
                      "first_bad_seq": res.first_bad_seq, "problem": res.problem,
                      "rows": list(res.rows)}))
    if not res.verified:
        _open_incident(res)
        raise typer.Exit(code=1)


def _open_incident(res: Any) -> None:
    """A failed verification opens an incident (PIPL Art. 57; issue 22), once per finding."""
    from compliance.governance.service import GovernanceService
    from compliance.policy.governance import load_governance

    services = existing_services()
    with services.db.unit_of_work() as session:
        inc = GovernanceService(session, services.policies, load_governance(
            services.policies)).incident_for_failed_verification(
            first_bad_seq=res.first_bad_seq, problem=res.problem or "", rows=res.rows,
            actor="cli:audit-verify")
        err.print(f"incident {inc.id} opened (comity incident notice {inc.id})")


@app.command("checkpoint")
@reports_errors()
def checkpoint() -> None:
    """Sign the Merkle root of all events since the last checkpoint and the RFC 6962 head of
    the whole log, which brand nodes witness (Ed25519). `public_key` is what brands may pin
    (`audit_public_key` in brand.toml).
    Example: comity audit checkpoint"""
    from compliance.audit.service import AuditLog
    from privacy.keys import audit_signing_key

    with default_services().db.unit_of_work() as session:
        cp = AuditLog(session).checkpoint(audit_signing_key())
        out = None if cp is None else {"first_seq": cp.first_seq, "last_seq": cp.last_seq,
                                       "merkle_root": cp.merkle_root,
                                       "tree_size": cp.tree_size, "tree_root": cp.tree_root,
                                       "public_key": cp.public_key}
    print(json.dumps({"checkpoint": out}))


@app.command("privacy")
@reports_errors()
def privacy(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="Training run id (comity "
                                                                 "runs list)")],
    node_config: Annotated[list[Path], typer.Option(help="Each brand's brand.toml (repeat): "
                                                         "the audit runs at the brands")],
) -> None:
    """Membership-inference audit of a run's model (loss threshold and black box) on the
    brands' own rows, rebuilt by their nodes as the run gated them; only the findings go into
    the audit log and the DPO report.
    Example: comity audit privacy RUN_ID --node-config a/brand.toml --node-config b/brand.toml"""
    from federation.brand.config import load_brand_config
    from federation.brand.node import BrandNode
    from federation.privacy_audit import audit_run

    nodes = [BrandNode(load_brand_config(p)) for p in node_config]
    findings = audit_run(existing_services().db, run_id, nodes, actor="cli")
    print(json.dumps(findings, indent=2))


@app.command("proof")
@reports_errors()
def proof(seq: Annotated[int, typer.Argument(
              metavar="SEQ", min=1,
              help="The event's sequence number in the audit log (`seq` in comity audit "
                   "trace, `first_bad_seq` in comity audit verify)")],
          out: Annotated[Path | None, typer.Option(help="Write the proof here")] = None
          ) -> None:
    """Export an inclusion proof for one event (verifiable offline).
    Example: comity audit proof 42 --out proof-42.json"""
    from compliance.audit.service import AuditLog

    with existing_services().db.reading() as session:
        found = AuditLog(session).proof(seq)
    text = json.dumps(found, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        print(text)
