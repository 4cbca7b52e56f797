"""Every bench option is checked when the options are made, before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from compliance.errors import InputError
from federation.bench.harness import BenchOptions

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("given", "option"), [
    ({"strategy": "bogus"}, "--strategy"), ({"model": "forest"}, "--model"),
    ({"brands": 1}, "--brands"), ({"rounds": 0}, "--rounds"), ({"alpha": 0.0}, "--alpha"),
    ({"epsilon": -1.0}, "--epsilon"), ({"delta": 1.0}, "--delta"),
    ({"cutoff": "2024-13-01"}, "--cutoff"), ({"time_format": "YYYY-MM-DD"}, "--time-format"),
    ({"horizon_days": 0}, "--horizon-days"),
])
def test_bad_options_are_refused_naming_the_option(given: dict[str, Any], option: str) -> None:
    with pytest.raises(InputError) as info:
        BenchOptions.for_task("churn", data="telco", **given)
    assert info.value.column == option


def test_good_options_pass() -> None:
    opts = BenchOptions.for_task("recommend", data="movielens", time_format="%Y-%m-%d",
                                 cutoff="2024-01-31", strategy="median")
    assert opts.rounds == 20 and opts.strategy == "median"


@pytest.mark.integration
def test_bench_cli_refuses_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text("cid,spend,churn\n" + "".join(
        f"c{i},{i},{'Yes' if i % 2 else 'No'}\n" for i in range(60)))
    out = tmp_path / "o.json"
    runner = CliRunner()
    base = ["bench", "churn", "--json", str(out), "--id-col", "cid", "--label-col", "churn"]
    for args, expected in [
        (["--data", str(tmp_path / "absent.csv"), "--strategy", "bogus"],
         "--strategy: unknown strategy 'bogus'"),
        (["--data", str(data)], "name the value that means positive with --positive"),
        (["--data", str(data), "--positive", "Maybe"], "'Maybe' (--positive) never occurs"),
        (["--data", str(data), "--positive", "Yes", "--json", str(tmp_path / "no" / "o.json")],
         "no such directory"),
    ]:
        res = runner.invoke(app, [*base, *args])
        assert res.exit_code == 2, (args, res.output, res.exception)
        assert expected in res.output, (args, res.output)
    assert not out.exists()


def test_one_class_of_labels_is_refused_before_training(tmp_path: Path) -> None:
    from federation.bench.harness import bench_churn

    data = tmp_path / "c.csv"
    data.write_text("cid,spend,churn\n" + "".join(f"c{i},{i},Yes\n" for i in range(60)))
    with pytest.raises(InputError, match="AUC needs both classes"):
        bench_churn(BenchOptions.for_task("churn", data=str(data), id_col="cid",
                                          label_col="churn", positive="Yes"))


@pytest.mark.integration
def test_seeds_are_checked_before_any_work(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["bench", "churn", "--data", str(tmp_path / "absent.csv"), "--json",
            str(tmp_path / "o.json")]
    for args, expected in [(["--seeds", "0,x"], "--seeds: '0,x' is not"),
                           (["--seeds", "1,1"], "distinct"),
                           (["--seed", "1", "--seeds", "0,1"], "not both")]:
        res = runner.invoke(app, [*base, *args])
        assert res.exit_code == 2 and expected in res.output, (args, res.output)
    with pytest.raises(InputError) as info:
        BenchOptions.for_task("churn", data="telco", seeds=())
    assert info.value.column == "--seeds"
