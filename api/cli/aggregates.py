"""`comity dataset`, `comity budget`, `comity query`: DP aggregates for internal services."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.console import reports_errors
from api.composition import default_services, existing_services
from compliance.errors import ComityError, InputError

if TYPE_CHECKING:
    from pydantic import ValidationError

dataset_app = typer.Typer(help="Datasets registered for DP aggregates.", no_args_is_help=True)
budget_app = typer.Typer(help="Privacy budgets for DP aggregates.", no_args_is_help=True)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ComityError(f"{option} '{item}': expected COLUMN=VALUE")
        out[key] = value
    return out


def _bounds(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for col, text in _pairs(items, "--bounds").items():
        lo, sep, hi = text.partition(":")
        try:
            out[col] = (float(lo), float(hi))
        except ValueError:
            raise ComityError(f"--bounds {col}={text}: expected LOW:HIGH numbers") from None
        if not sep:
            raise ComityError(f"--bounds {col}={text}: expected LOW:HIGH")
    return out


@dataset_app.command("register")
@reports_errors()
def register(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name used in queries "
                                                             "(the query's \"dataset\")")],
    unit_col: Annotated[str, typer.Option(help="Column identifying one customer (the "
                                               "privacy unit)")],
    bounds: Annotated[list[str], typer.Option(help="COL=LOW:HIGH, public clipping bounds "
                                                   "(repeat)")] = [],  # noqa: B006
    categories: Annotated[list[str], typer.Option(help="COL=a,b,c, the public key set of a "
                                                       "text column (repeat)")] = [],  # noqa: B006
    data_category: Annotated[list[str], typer.Option(help="COL=CATEGORY from "
                                                          "policies/data_categories.yaml")
                             ] = [],  # noqa: B006
    max_rows_per_unit: Annotated[int, typer.Option(min=1, help="Rows one customer may "
                                                                "contribute")] = 1,
    max_rows: Annotated[int, typer.Option(min=1, help="Public upper bound on the row count")
                        ] = 10_000_000,
    jurisdiction: Annotated[str, typer.Option(help="pipl, gdpr or ccpa: the law its "
                                                   "releases are checked under")] = "pipl",
    silo: Annotated[list[str], typer.Option(help="BRAND=PATH: the brand's own rows for "
                                                 "federated queries (repeat)")] = [],  # noqa: B006
    file: Annotated[Path | None, typer.Option(help="CSV or Parquet file (optional when "
                                                   "--silo is given)")] = None,
) -> None:
    """Register a dataset: schema and integrity are checked, nothing is inferred from it.
    Example: comity dataset register customers --file customers.parquet --unit-col cid"""
    cats = {c: [v.strip() for v in vals.split(",")]
            for c, vals in _pairs(categories, "--categories").items()}
    spec = default_services().aggregates.register(
        name, file, unit_col, actor="cli", bounds=_bounds(bounds), categories=cats,
        data_categories=_pairs(data_category, "--data-category"),
        max_rows_per_unit=max_rows_per_unit, max_rows=max_rows, jurisdiction=jurisdiction,
        silos={b: Path(p) for b, p in _pairs(silo, "--silo").items()})
    print(json.dumps({"dataset": spec.name, "version": spec.version,
                      "columns": {c: s.model_dump(exclude_none=True)
                                  for c, s in spec.columns.items()}}, ensure_ascii=False))


@budget_app.command("set")
@reports_errors()
def budget_set(
    requester: Annotated[str, typer.Option(help="service:<name>")],
    dataset: Annotated[str, typer.Option(help="A registered dataset's name")],
    epsilon: Annotated[float, typer.Option(help="Epsilon limit per period")],
    period: Annotated[str | None, typer.Option(
        help="day | week | month | quarter | year | total (default from policies)")] = None,
) -> None:
    """Set a requester's epsilon limit on a dataset; audited.
    Example: comity budget set --requester service:growth --dataset customers --epsilon 1"""
    view = existing_services().aggregates.set_budget(requester, dataset, epsilon,
                                                    period=period, actor="cli")
    print(view.model_dump_json())


@budget_app.command("list")
@reports_errors()
def budget_list(requester: Annotated[str | None, typer.Option(
        help="Only this requester's ledgers (service:<name>)")] = None) -> None:
    """Ledgers per requester, dataset and period.
    Example: comity budget list --requester service:growth"""
    print(json.dumps([v.model_dump() for v in existing_services().aggregates.budgets(requester)],
                     indent=2))


def _query_problem(exc: ValidationError) -> str:
    """The first problem with a query, located: `invalid JSON at line L column C: why` for
    text that is not JSON, else the field's path and what is wrong with it."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        why = str(first.get("ctx", {}).get("error", first["msg"]))
        at = re.fullmatch(r"(.*) at line (\d+) column (\d+)", why)
        if at:
            return f"invalid JSON at line {at[2]} column {at[3]}: {at[1]}"
        return f"invalid JSON: {why}"
    field = ".".join(str(p) for p in first["loc"])
    return f"{field}: {first['msg']}" if field else str(first["msg"])


@reports_errors()
def query(
    requester: Annotated[str, typer.Option(help="service:<name> the answer is for")],
    query_json: Annotated[str, typer.Argument(
        metavar="QUERY_JSON", help="The query, the body of POST /v1/aggregates: JSON text, "
                                   "or @FILE to read it from the file FILE")],
    dedup: Annotated[bool, typer.Option(
        "--dedup", help="Answer across the silos with each linked person counted once (sets "
                        "\"federated\" and \"dedup\"): the noise of one silo, over the customers "
                        "with separate cross_brand_sharing consent and a join key only")] = False,
) -> None:
    """Answer one DP aggregate query (the body of POST /v1/aggregates) and spend its budget.
    Example: comity query --requester service:growth @count-by-city.json
    Example: comity query --requester service:growth --dedup @count-by-city.json"""
    from pydantic import ValidationError

    from compliance.files import read_text
    from privacy.aggregates.schemas import AggregateQuery

    source = query_json[1:] if query_json.startswith("@") else None
    text = read_text(Path(source)) if source is not None else query_json
    try:
        q = AggregateQuery.model_validate_json(text)
        if dedup:
            q = AggregateQuery.model_validate({**q.model_dump(), "federated": True,
                                               "dedup": True})
    except ValidationError as exc:
        raise InputError(_query_problem(exc), file=source or "QUERY_JSON") from None
    answer = existing_services().aggregates.query(requester, q, actor="cli")
    print(answer.model_dump_json(indent=2))
