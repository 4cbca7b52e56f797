"""A brand's consent records, loaded from its own CRM export and sent to the coordinator.

The export (CSV, Parquet or a SQL table) is read with a YAML column map that names which
column holds the customer id, purpose, action, time, notice version, channel, the separate and
guardian flags and the birth date. Every row is checked first, with the same rules the
coordinator applies (known purpose, a known action, a real time, separate consent where the
law asks for it, PIPL Art. 31 / GDPR Art. 8 for minors): one bad row and nothing is sent, and
the error names the file, line and column, never the value. Customer ids are pseudonymized
here, with the brand's own key, before anything leaves; minors are derived from the birth date
here and only the flag travels. Each event carries an idempotency key derived from its content,
so importing the same export again adds nothing.

```yaml
# consent_map.yaml
subject: customer_id
purpose: purpose
action: action
occurred_at: occurred_at
notice_version: notice_version    # or a constant under defaults
separate: separate                # optional
by_guardian: by_guardian          # optional
birth_date: birth_date            # optional: without it nobody is a minor
time_format: iso                  # iso, unix, or a strftime pattern
actions: {opt_in: grant, opt_out: withdraw}   # optional: the CRM's words for the actions
defaults: {notice_version: "2026-01", channel: crm}
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from compliance.consent.state import ConsentAction, age_on
from compliance.errors import InputError
from compliance.policy.loader import load_policies, parse_policy_text
from compliance.policy.schemas import PolicySet
from federation.brand.node import BrandNode
from federation.data.connectors import read_frame

MAX_REPORTED = 10
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f", ""})
VALID_ACTIONS = frozenset(a.value for a in ConsentAction)


class ConsentExportMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    purpose: str
    action: str
    occurred_at: str
    notice_version: str | None = None
    channel: str | None = None
    separate: str | None = None
    by_guardian: str | None = None
    birth_date: str | None = None
    time_format: str = "iso"
    actions: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class PreparedImport:
    events: list[dict[str, Any]]
    rows: int
    subjects: int
    minors: int


def load_export_map(path: Path) -> ConsentExportMap:
    if not path.is_file():
        raise InputError("consent export column map not found", file=str(path))
    return parse_policy_text(path.read_text(encoding="utf-8"), ConsentExportMap, str(path))


def _line(source: str, index: int) -> int | str:
    return index + 2 if source.lower().endswith(".csv") else f"row {index + 1}"


def _times(values: pd.Series, fmt: str) -> pd.Series:
    if fmt == "unix":
        return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit="s", utc=True,
                              errors="coerce")
    if fmt == "iso":
        return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return pd.to_datetime(values, utc=True, errors="coerce", format=fmt)


def idempotency_key(brand_id: str, event: dict[str, Any]) -> str:
    """The same event imported twice gets the same key, and no two events share one."""
    parts = [brand_id, event["subject"], event["purpose"], event["action"],
             event["occurred_at"], str(event["separate"]), str(event["by_guardian"]),
             event["notice_version"]]
    return "import:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


FIELDS = ("subject", "purpose", "action", "occurred_at", "notice_version", "channel",
          "separate", "by_guardian", "birth_date")


@dataclass(frozen=True)
class _Columns:
    """The export's columns as the map names them, parsed once for every row."""
    named: dict[str, str | None]
    subject: pd.Series
    purpose: pd.Series
    action: pd.Series
    when: pd.Series
    notice: pd.Series
    channel: pd.Series
    separate: pd.Series
    guardian: pd.Series
    birth_raw: pd.Series
    born: pd.Series | None


def _columns(frame: pd.DataFrame, cmap: ConsentExportMap, source: str,
             errors: list[str]) -> _Columns:
    named = {f: getattr(cmap, f) for f in FIELDS}

    def col(field: str) -> pd.Series:
        name = named[field]
        if name is not None:
            return frame[name].astype("string").fillna("").str.strip()
        return pd.Series([cmap.defaults.get(field, "")] * len(frame), index=frame.index,
                         dtype="string")

    def flag(field: str) -> pd.Series:
        if named[field] is None:
            return pd.Series(False, index=frame.index)
        values = col(field).str.lower()
        for i in frame.index[(~values.isin(TRUE | FALSE)).to_numpy()]:
            errors.append(f"{source}:{_line(source, int(i))}:{named[field]}: not a yes/no "
                          "value")
        return values.isin(TRUE)

    words = {k.lower(): v for k, v in cmap.actions.items()}
    birth_raw = col("birth_date")
    return _Columns(
        named, col("subject"), col("purpose"),
        col("action").str.lower().map(lambda a: words.get(a, a)),
        _times(frame[cmap.occurred_at], cmap.time_format), col("notice_version"),
        col("channel"), flag("separate"), flag("by_guardian"), birth_raw,
        pd.to_datetime(birth_raw, errors="coerce", format="ISO8601") if cmap.birth_date
        else None)


def _problem(c: _Columns, i: Any, cmap: ConsentExportMap, policies: PolicySet,
             jurisdiction: str, minor: bool) -> str | None:
    """What is wrong with row `i` (the column and the rule, never the value), or None."""
    law = policies.jurisdictions[jurisdiction]
    if not c.subject[i]:
        return f"{c.named['subject']}: empty customer id"
    if c.purpose[i] not in policies.purposes:
        return f"{c.named['purpose']}: unknown purpose"
    if c.action[i] not in VALID_ACTIONS:
        return f"{c.named['action']}: not grant, withdraw or refuse (map it under actions)"
    if pd.isna(c.when[i]):
        return f"{cmap.occurred_at}: not a time in the format '{cmap.time_format}'"
    if not c.notice[i]:
        return "notice_version: empty (give a column or a default)"
    if c.born is not None and c.birth_raw[i] and pd.isna(c.born[i]):
        return f"{cmap.birth_date}: not an ISO date"
    if c.action[i] == "grant" and c.purpose[i] in law.separate_consent_purposes \
            and not c.separate[i]:
        return (f"{c.named['separate'] or 'separate'}: purpose needs separate consent under "
                f"{jurisdiction.upper()}")
    if c.action[i] == "grant" and minor and not c.guardian[i]:
        return (f"{c.named['by_guardian'] or 'by_guardian'}: a minor's consent must come from "
                f"a parent or guardian ({law.title})")
    return None


def prepare_import(source: str, cmap: ConsentExportMap, *, brand_id: str, jurisdiction: str,
                   policies: PolicySet, pseudonym: Callable[[str], str],
                   today: date | None = None) -> PreparedImport:
    """Read and check the whole export; returns the events to send (pseudonymous) or raises
    one `InputError` naming every bad row found (the first few), and sends nothing."""
    frame = read_frame(source)
    missing = [getattr(cmap, f) for f in FIELDS
               if getattr(cmap, f) is not None and getattr(cmap, f) not in frame.columns]
    if missing:
        raise InputError(f"columns named in the consent map are missing: {missing}",
                         file=source, line=1)
    if jurisdiction not in policies.jurisdictions:
        raise InputError(f"unknown jurisdiction '{jurisdiction}'", column="jurisdiction")
    minor_age = policies.jurisdictions[jurisdiction].minor_age
    today = today or datetime.now(UTC).date()
    errors: list[str] = []
    c = _columns(frame, cmap, source, errors)
    minor_of: dict[str, bool] = {}
    events: list[dict[str, Any]] = []
    for i in frame.index:
        minor = bool(c.born is not None and not pd.isna(c.born[i])
                     and age_on(c.born[i].date(), today) < minor_age)
        problem = _problem(c, i, cmap, policies, jurisdiction, minor)
        if problem is not None:
            errors.append(f"{source}:{_line(source, int(i))}:{problem}")
            continue
        key = pseudonym(str(c.subject[i]))
        minor_of.setdefault(key, minor)
        event = {"brand_id": brand_id, "subject": key, "purpose": str(c.purpose[i]),
                 "action": str(c.action[i]), "separate": bool(c.separate[i]),
                 "by_guardian": bool(c.guardian[i]), "is_minor": minor_of[key],
                 "notice_version": str(c.notice[i])[:32],
                 "channel": str(c.channel[i] or "crm")[:32],
                 "occurred_at": c.when[i].isoformat()}
        event["idempotency_key"] = idempotency_key(brand_id, event)
        events.append(event)
    if errors:
        shown = "; ".join(errors[:MAX_REPORTED])
        more = f" (and {len(errors) - MAX_REPORTED} more)" if len(errors) > MAX_REPORTED else ""
        raise InputError(f"{len(errors)} bad rows, nothing imported: {shown}{more}")
    if not events:
        raise InputError("the export has no consent rows", file=source)
    return PreparedImport(events, len(frame), len(minor_of), sum(minor_of.values()))


@dataclass(frozen=True)
class ImportReport:
    rows: int
    subjects: int
    minors: int
    created: int
    replayed: int
    synced_events: int


def import_consents(node: BrandNode, *, source: str | None = None, map_path: Path | None = None,
                    policies: PolicySet | None = None, today: date | None = None
                    ) -> ImportReport:
    """The brand's CRM export (its config's unless given) checked whole, pseudonymized,
    sent through the API with the brand token, then synced back into the node's copy.
    `today` is the day ages are counted on (who is a minor); default: today."""
    cfg = node.config
    source = source or cfg.consent.export
    map_path = map_path or cfg.consent.map
    if source is None or map_path is None:
        raise InputError("no consent export or map: give --file and --map, or set them under "
                         "[consent] in the node config", file=str(cfg.source), column="consent")
    prepared = prepare_import(source, load_export_map(map_path), brand_id=cfg.brand_id,
                              jurisdiction=cfg.jurisdiction,
                              policies=policies or load_policies(),
                              pseudonym=node.pseudonymizer, today=today)
    with node.client() as client:
        sent = client.import_consents(prepared.events)
    synced = node.sync()
    return ImportReport(prepared.rows, prepared.subjects, prepared.minors, sent["created"],
                        sent["replayed"], synced.events)
