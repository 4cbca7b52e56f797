"""`comity pii`: detection and anonymization of personal data in text and tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.console import count_lines, err, reports_errors, with_progress
from api.composition import default_services

app = typer.Typer(help="PII detection and anonymization.", no_args_is_help=True)


@app.command("scan")
@reports_errors()
def scan(
    input: Annotated[Path, typer.Option("--input", help="JSONL lines {id, text}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL lines {id, entities}")],
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0,
                                             help="Lowest score a finding needs")] = 0.5,
) -> None:
    """Detect PII in free text; offsets are Python string indices.
    Example: comity pii scan --input notes.jsonl --output found.jsonl"""
    from privacy.detection.analyzer import PiiScanner
    from privacy.detection.service import scan_jsonl

    scanner = PiiScanner(threshold=threshold)
    n = with_progress("pii scan", count_lines(input),
                      lambda p: scan_jsonl(input, output, scanner, p))
    err.print(f"scanned {n} records -> {output}")


@app.command("redact")
@reports_errors(ValueError)
def redact(
    input: Annotated[Path, typer.Option("--input", help="JSONL lines {id, text}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL lines {id, text, entities}")],
    operator: Annotated[str, typer.Option(help="mask | redact | pseudonym | encrypt")] = "mask",
    brand: Annotated[str, typer.Option(help="Brand whose key pseudonymizes/encrypts")] =
    "default",
) -> None:
    """Replace detected PII with masks, type tags, keyed pseudonyms or AES-GCM tokens.
    Example: comity pii redact --input notes.jsonl --output masked.jsonl --operator mask"""
    from privacy.anonymize import make_operator, redact_jsonl

    op = make_operator(operator, brand_id=brand)
    n = with_progress("pii redact", count_lines(input),
                      lambda p: redact_jsonl(input, output, default_services().scanner, op, p))
    err.print(f"redacted {n} records -> {output}")


@app.command("scan-table")
@reports_errors()
def scan_table(
    input: Annotated[Path | None, typer.Option("--input", help="CSV or Parquet file")] = None,
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of a database")] = None,
    table: Annotated[str | None, typer.Option(help="Table name, with --url")] = None,
    sample: Annotated[int, typer.Option(min=1, max=100_000,
                                        help="Rows sampled per column")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the row sample")] = 0,
) -> None:
    """Classify each column of a table by PII type, with confidence and sample counts.
    Example: comity pii scan-table --input customers.csv --sample 500"""
    from privacy.detection.table import classify_columns, read_table

    frame = read_table(input, url=url, table=table)
    found = classify_columns(frame, default_services().scanner, sample=sample, seed=seed)
    print(json.dumps({"rows": len(frame), "columns": [c.as_dict() for c in found]},
                     ensure_ascii=False, indent=2))
