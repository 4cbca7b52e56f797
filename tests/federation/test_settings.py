"""The run settings: what travels to the brands, and the Flower app config that lists it."""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from federation.settings import RunSettings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("database", "silo", "path", "key", "url", "token", "password")


def test_the_flower_app_config_lists_every_run_setting_with_its_default() -> None:
    app = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]
    expected = {f.name.replace("_", "-"): ("" if f.default is MISSING else f.default)
                for f in fields(RunSettings)}
    assert {k: v for k, v in app.items() if k != "strategy"} == expected


def test_no_run_setting_names_a_database_path_or_key() -> None:
    names = [f.name for f in fields(RunSettings)]
    assert not [n for n in names if set(n.split("_")) & set(SECRETS)], names
    record = RunSettings(run_id="r", brands=("a",), consent_as_of="2026-01-01T00:00:00+00:00"
                         ).to_record()
    assert RunSettings.from_mapping(record).brands == ("a",)
