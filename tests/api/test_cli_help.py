"""Help that teaches: every `comity` command, found by walking the Typer app, shows a
one-line example of itself in `--help`, and every argument and option says what it is."""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from api.cli import app

ROOT = typer.main.get_command(app)
# "Example: [NAME=value ...] comity ...": an environment prefix (COMITY_TOKEN=...) is allowed
EXAMPLE = re.compile(r"Example: (?:[A-Z_]+=\S+ )*(comity .+?)(?:\n|$)")


def commands(cmd: click.Command = ROOT, path: tuple[str, ...] = ("comity",)
             ) -> Iterator[tuple[str, click.Command]]:
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(path), cmd


ALL = dict(commands())


def test_the_walk_finds_every_command() -> None:
    assert {"comity demo", "comity query", "comity audit proof", "comity bench",
            "comity doctor", "comity token revoke"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_help_shows_an_example_that_parses(name: str) -> None:
    cmd = ALL[name]
    text = "\n".join(t for t in (cmd.help, cmd.epilog) if t)
    found = EXAMPLE.search(text)
    assert found, f"{name}: no 'Example: {name} ...' line in its help"
    example = found.group(1)
    assert example == name or example.startswith(name + " "), (name, example)
    args = shlex.split(example)[len(name.split()):]
    try:
        cmd.make_context(name, args)  # the example is valid syntax
    except click.MissingParameter as exc:  # one the environment gives (COMITY_TOKEN)
        assert exc.param is not None and exc.param.envvar, (name, exc.format_message())
    shown = CliRunner().invoke(app, [*name.split()[1:], "--help"], terminal_width=200)
    assert shown.exit_code == 0 and "Example:" in shown.stdout, shown.stdout


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_argument_and_option_has_help(name: str) -> None:
    for param in ALL[name].params:
        if param.name == "help":
            continue
        helptext: str | None = getattr(param, "help", None)
        assert helptext and helptext.strip(), f"{name}: {param.human_readable_name} has no help"


def test_argument_help_reaches_the_screen() -> None:
    """typer 0.20 on click 8.5 dropped every argument's help (the lock pins click 8.4)."""
    shown = CliRunner().invoke(app, ["audit", "proof", "--help"], terminal_width=200)
    assert "SEQ" in shown.stdout
    seq = next(p for p in ALL["comity audit proof"].params if p.name == "seq")
    helptext: str = getattr(seq, "help", None) or ""
    assert helptext and helptext.split()[0] in shown.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (['{"dataset": "customers",'],
     "error: QUERY_JSON: invalid JSON at line 1 column 24: EOF while parsing a value"),
    (['{"dataset": "customers"\n "epsilon": 1}'],
     "error: QUERY_JSON: invalid JSON at line 2 column 2: expected `,` or `}`"),
    (['{"dataset": 3, "measure": "count", "epsilon": 0.1}'],
     "error: QUERY_JSON: dataset: Input should be a valid string"),
    (['{"dataset": "c", "measure": "count", "epsilon": 0.1, "group_by": [1]}'],
     "error: QUERY_JSON: group_by.0: Input should be a valid string"),
])
def test_query_json_errors_say_where(args: list[str], expected: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["query", "--requester", "service:x", *args])
    assert res.exit_code == 2
    assert " ".join(res.output.split()) == expected, res.output
    assert not (tmp_path / ".comity").exists()  # refused before any database is opened


def test_query_json_errors_in_a_file_name_the_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.json").write_text('{\n  "dataset": "customers",\n}\n')
    res = CliRunner().invoke(app, ["query", "--requester", "service:x", "@q.json"])
    assert res.exit_code == 2
    assert " ".join(res.output.split()).startswith(
        "error: q.json: invalid JSON at line 3 column 1: "), res.output


@pytest.mark.parametrize(("value", "why"), [
    ("2026-13-01", "month must be in 1..12"), ("2026-02-30", "day is out of range for month")])
def test_a_bad_as_of_names_the_option_and_the_reason(value: str, why: str,
                                                     tmp_path: Path) -> None:
    config = tmp_path / "brand.toml"
    config.write_text("")
    res = CliRunner().invoke(app, ["score", "churn", "--config", str(config),
                                   "--as-of", value])
    assert res.exit_code == 2
    assert " ".join(res.output.split()) == f"error: --as-of: not a date YYYY-MM-DD ({why})"


def test_the_demo_shows_each_models_rounds_against_its_own_total() -> None:
    """The demo trains churn for N rounds, then the recommender's one statistics round: the
    bars end at N/N and 1/1, never at a shared "federated rounds 1/1"."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from api.cli.federation import RoundBars
    from federation.demo import labelled

    out = io.StringIO()
    with Progress(TextColumn("{task.description} {task.completed}/{task.total}"),
                  console=Console(file=out, width=100)) as bar:
        bars = RoundBars(bar)
        churn, recommender = labelled(bars, "churn"), labelled(bars, "recommender")
        assert churn is not None and recommender is not None
        for done in range(1, 9):
            churn("round", done, 8)
        recommender("round", 1, 1)
        shown = [(t.description, t.completed, t.total) for t in bar.tasks]
    assert shown == [("federated churn rounds", 8, 8), ("federated recommender rounds", 1, 1)]
    assert "federated churn rounds 8/8" in out.getvalue()
    assert labelled(None, "churn") is None
