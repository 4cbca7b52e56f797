from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.errors import InputError
from compliance.policy.loader import load_policies, policy_dir

pytestmark = pytest.mark.unit


def test_every_shipped_policy_file_loads() -> None:
    p = load_policies()
    assert {"pipl", "gdpr", "ccpa"} <= set(p.jurisdictions)
    assert {"model_training", "personalized_recommendation", "marketing", "analytics_aggregate",
            "cross_brand_sharing"} <= set(p.purposes)
    assert "cross_brand_sharing" in p.jurisdictions["pipl"].separate_consent_purposes
    for j in p.jurisdictions.values():
        assert all(r.source for r in j.rules)


def test_valid_files_are_parsed_once_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python YAML passes (compose for lines, safe_load) run only to place an
    error: a run loads the policies and governance files with one libyaml parse each
    (issue 24: the two pure-Python passes were most of a training run's fixed cost)."""
    import yaml

    from compliance.policy.governance import load_governance

    def slow(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the pure-Python YAML parser ran on a valid file")

    monkeypatch.setattr(yaml, "compose", slow)
    monkeypatch.setattr(yaml, "safe_load", slow)
    load_governance(load_policies())


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "policies"
    shutil.copytree(policy_dir(), dst)
    return dst


def test_malformed_rule_names_file_and_line(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    f = d / "pipl.yaml"
    lines = f.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if "decision: deny" in line)
    lines[i] = lines[i].replace("deny", "maybe")
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        load_policies(d)
    assert f"pipl.yaml:{i + 1}:" in str(exc.value) and "decision" in str(exc.value)


def test_broken_yaml_names_line_and_column(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "gdpr.yaml").write_text("jurisdiction: gdpr\nrules: [\n  - key: x\n")
    with pytest.raises(InputError, match=r"gdpr\.yaml:\d+:\d+: not valid YAML"):
        load_policies(d)


def test_unknown_purpose_reference_is_rejected(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    f = d / "pipl.yaml"
    f.write_text(f.read_text().replace("purpose_in: [cross_brand_sharing]",
                                       "purpose_in: [cross_brand_selling]"))
    with pytest.raises(InputError, match="unknown purpose 'cross_brand_selling'"):
        load_policies(d)


def test_aggregate_budget_policy_is_checked(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    f = d / "aggregates.yaml"
    f.write_text(f.read_text().replace("max_limit_epsilon: 20.0", "max_limit_epsilon: 1.0"))
    with pytest.raises(InputError, match=r"aggregates\.yaml.*default_limit_epsilon exceeds"):
        load_policies(d)
    f.write_text(f.read_text().replace("purpose: analytics_aggregate", "purpose: spying"))
    with pytest.raises(InputError, match="aggregates.yaml"):
        load_policies(d)
