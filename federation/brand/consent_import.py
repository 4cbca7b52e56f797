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


def prepare_import(source: str, cmap: ConsentExportMap, *, brand_id: str, jurisdiction: str,
                   policies: PolicySet, pseudonym: Callable[[str], str],
                   today: date | None = None) -> PreparedImport:
    """Read and check the whole export; returns the events to send (pseudonymous) or raises
    one `InputError` naming every bad row found (the first few), and sends nothing."""
    frame = read_frame(source)
    named = {f: getattr(cmap, f) for f in ("subject", "purpose", "action", "occurred_at",
                                           "notice_version", "channel", "separate",
                                           "by_guardian", "birth_date")}
    missing = [c for c in named.values() if c is not None and c not in frame.columns]
    if missing:
        raise InputError(f"columns named in the consent map are missing: {missing}",
                         file=source, line=1)
    if jurisdiction not in policies.jurisdictions:
        raise InputError(f"unknown jurisdiction '{jurisdiction}'", column="jurisdiction")
    law = policies.jurisdictions[jurisdiction]
    today = today or datetime.now(UTC).date()

    def col(field: str) -> pd.Series:
        name = named[field]
        if name is not None:
            return frame[name].astype("string").fillna("").str.strip()
        return pd.Series([cmap.defaults.get(field, "")] * len(frame), index=frame.index,
                         dtype="string")

    subject, purpose, raw_action = col("subject"), col("purpose"), col("action")
    notice, channel = col("notice_version"), col("channel")
    when = _times(frame[cmap.occurred_at], cmap.time_format)
    words = {k.lower(): v for k, v in cmap.actions.items()}
    action = raw_action.str.lower().map(lambda a: words.get(a, a))
    birth_raw = col("birth_date")
    born = (pd.to_datetime(birth_raw, errors="coerce", format="ISO8601")
            if cmap.birth_date else None)
    errors: list[str] = []

    def flag(field: str) -> pd.Series:
        values = col(field).str.lower()
        bad = ~values.isin(TRUE | FALSE)
        for i in frame.index[bad.to_numpy()]:
            errors.append(f"{source}:{_line(source, int(i))}:{named[field]}: not a yes/no "
                          "value")
        return values.isin(TRUE)

    separate = flag("separate") if cmap.separate else pd.Series(False, index=frame.index)
    guardian = flag("by_guardian") if cmap.by_guardian else pd.Series(False, index=frame.index)
    minor_of: dict[str, bool] = {}
    events: list[dict[str, Any]] = []
    valid_actions = {a.value for a in ConsentAction}
    for i in frame.index:
        where = f"{source}:{_line(source, int(i))}"
        problem = None
        if not subject[i]:
            problem = f"{named['subject']}: empty customer id"
        elif purpose[i] not in policies.purposes:
            problem = f"{named['purpose']}: unknown purpose"
        elif action[i] not in valid_actions:
            problem = f"{named['action']}: not grant, withdraw or refuse (map it under actions)"
        elif pd.isna(when[i]):
            problem = f"{cmap.occurred_at}: not a time in the format '{cmap.time_format}'"
        elif not notice[i]:
            problem = "notice_version: empty (give a column or a default)"
        elif born is not None and birth_raw[i] and pd.isna(born[i]):
            problem = f"{cmap.birth_date}: not an ISO date"
        if problem is None:
            minor = bool(born is not None and not pd.isna(born[i])
                         and age_on(born[i].date(), today) < law.minor_age)
            if action[i] == "grant" and purpose[i] in law.separate_consent_purposes \
                    and not separate[i]:
                problem = (f"{named['separate'] or 'separate'}: purpose needs separate consent "
                           f"under {jurisdiction.upper()}")
            elif action[i] == "grant" and minor and not guardian[i]:
                problem = (f"{named['by_guardian'] or 'by_guardian'}: a minor's consent must "
                           f"come from a parent or guardian ({law.title})")
        if problem is not None:
            errors.append(f"{where}:{problem}")
            continue
        key = pseudonym(str(subject[i]))
        minor_of.setdefault(key, minor)
        event = {"brand_id": brand_id, "subject": key, "purpose": str(purpose[i]),
                 "action": str(action[i]), "separate": bool(separate[i]),
                 "by_guardian": bool(guardian[i]), "is_minor": minor_of[key],
                 "notice_version": str(notice[i])[:32],
                 "channel": str(channel[i] or "crm")[:32],
                 "occurred_at": when[i].isoformat()}
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
