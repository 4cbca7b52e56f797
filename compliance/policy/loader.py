"""Loads policies/*.yaml into typed models; a malformed file fails with file, line, reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from compliance.errors import InputError
from compliance.policy.schemas import (
    AggregatesPolicy,
    CategoriesFile,
    ChecklistFile,
    ConsentTimePolicy,
    Jurisdiction,
    PolicySet,
    PurposesFile,
    RequestsFile,
    RetentionFile,
)

M = TypeVar("M", bound=BaseModel)

NON_JURISDICTION_FILES = {"purposes.yaml", "data_categories.yaml", "requests.yaml", "masking.yaml",
                          "retention.yaml", "aggregates.yaml", "audit_checklist.yaml",
                          "consent.yaml", "alliance_agreement.yaml", "impact_assessment.yaml",
                          "cross_border.yaml", "incidents.yaml"}  # the last four: governance


def policy_dir() -> Path:
    return Path(os.environ.get("COMITY_POLICY_DIR",
                               Path(__file__).resolve().parents[2] / "policies"))


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where built


def parse_policy_text(text: str, model: type[M], file: str) -> M:
    """Parsed with libyaml, once; the pure-Python parser runs only to place an error (its
    messages and marks), so a run that loads the policies pays one fast parse per file
    (the two pure-Python passes were most of a training run's fixed cost, issue 24)."""
    try:
        data: Any = yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        try:  # the pure-Python parser places the error (or parses what libyaml refused)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            ) from exc
    if not isinstance(data, dict):
        raise InputError("expected a mapping at the top level", file=file, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
        field = ".".join(str(p) for p in loc) or "(top level)"
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raise InputError(f"{field}: {err['msg']}", file=file, line=_line_of(node, loc)) from exc


def _load(path: Path, model: type[M]) -> M:
    return parse_policy_text(path.read_text(encoding="utf-8"), model, str(path))


def load_policies(directory: Path | None = None) -> PolicySet:
    """Load and cross-check every policy file: references must resolve."""
    root = directory or policy_dir()
    if not root.is_dir():
        raise InputError(f"policy directory not found: {root}")
    purposes = {p.key: p for p in _load(root / "purposes.yaml", PurposesFile).purposes}
    categories = {
        c.key: c for c in _load(root / "data_categories.yaml", CategoriesFile).categories
    }
    for p in purposes.values():
        for cat in (*p.required_categories, *p.optional_categories):
            if cat not in categories:
                raise InputError(
                    f"purpose '{p.key}' names unknown data category '{cat}'",
                    file=str(root / "purposes.yaml"),
                )
    jurisdictions: dict[str, Jurisdiction] = {}
    for path in sorted(root.glob("*.yaml")):
        if path.name in NON_JURISDICTION_FILES:
            continue
        j = _load(path, Jurisdiction)
        for key in j.separate_consent_purposes:
            if key not in purposes:
                raise InputError(f"unknown purpose '{key}'", file=str(path))
        for rule in j.rules:
            for cond in (rule.match, rule.unless):
                for key in (cond.purpose_in or ()) if cond else ():
                    if key not in purposes:
                        raise InputError(
                            f"rule '{rule.key}' names unknown purpose '{key}'", file=str(path)
                        )
        jurisdictions[j.jurisdiction] = j
    requests_file = _load(root / "requests.yaml", RequestsFile)
    deadlines = {d.jurisdiction: d for d in requests_file.deadlines}
    for t in requests_file.types:
        for key in t.refuse:
            if key not in purposes:
                raise InputError(f"request type '{t.type}' names unknown purpose '{key}'",
                                 file=str(root / "requests.yaml"))
    for key in jurisdictions:
        if key not in deadlines:
            raise InputError(f"no request deadline for jurisdiction '{key}'",
                             file=str(root / "requests.yaml"))
    retention = _load(root / "retention.yaml", RetentionFile).rules
    for r in retention:
        if r.purpose not in purposes or r.category not in categories:
            raise InputError(f"retention rule '{r.key}' names an unknown purpose or category",
                             file=str(root / "retention.yaml"))
    aggregates = _load(root / "aggregates.yaml", AggregatesPolicy)
    if aggregates.purpose not in purposes:
        raise InputError(f"unknown purpose '{aggregates.purpose}'",
                         file=str(root / "aggregates.yaml"))
    checklist = _load(root / "audit_checklist.yaml", ChecklistFile)
    keys = [i.key for i in checklist.items]
    if len(set(keys)) != len(keys):
        raise InputError("audit checklist keys repeat", file=str(root / "audit_checklist.yaml"))
    consent_time = _load(root / "consent.yaml", ConsentTimePolicy)
    return PolicySet(purposes=purposes, categories=categories, jurisdictions=jurisdictions,
                     deadlines=deadlines, retention=retention, aggregates=aggregates,
                     checklist=checklist, consent_time=consent_time,
                     request_types=requests_file.types)
