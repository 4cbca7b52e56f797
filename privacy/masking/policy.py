"""policies/masking.yaml, typed: which role sees which data category how."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.errors import InputError
from compliance.policy.loader import parse_policy_text, policy_dir
from compliance.policy.schemas import PolicySet

Mode = Literal["masked", "confirmed_clear", "hidden"]
Tier = Literal["staff", "supervisor"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoleView(_Frozen):
    default: Mode = "hidden"
    categories: dict[str, Mode] = Field(default_factory=dict)

    def mode(self, category: str) -> Mode:
        return self.categories.get(category, self.default)


class RevealRules(_Frozen):
    confirm_within_minutes: int = Field(ge=1, le=24 * 60)
    min_reason_length: int = Field(ge=1, le=200)


class MaskingPolicy(_Frozen):
    roles: dict[Tier, RoleView]
    fields: dict[str, str]
    reveal: RevealRules
    source: str = Field(min_length=1)

    def category(self, field: str) -> str | None:
        return self.fields.get(field)


def load_masking(policies: PolicySet, directory: Path | None = None) -> MaskingPolicy:
    """Load and cross-check against the data categories; a bad file names file and line."""
    path = (directory or policy_dir()) / "masking.yaml"
    policy = parse_policy_text(path.read_text(encoding="utf-8"), MaskingPolicy, str(path))
    named = [*policy.fields.values(),
             *(c for view in policy.roles.values() for c in view.categories)]
    for cat in named:
        if cat not in policies.categories:
            raise InputError(f"unknown data category '{cat}'", file=str(path))
    return policy


@lru_cache(maxsize=4)
def default_masking(directory: str | None = None) -> MaskingPolicy:
    from compliance.policy.loader import load_policies

    root = Path(directory) if directory else None
    return load_masking(load_policies(root), root)
