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

Bulk exports are streamed (issue 24): the file is read in chunks of `CHUNK_ROWS` and checked
with column-wise rules, once whole before anything is sent and again, chunk by chunk, to
build and send the events, so memory grows with the brand's subjects (one flag each), never
with the rows.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from compliance.consent.state import ConsentAction
from compliance.errors import InputError
from compliance.files import csv_rows
from compliance.policy.loader import load_policies, parse_policy_text
from compliance.policy.schemas import PolicySet
from federation.brand.node import BrandNode
from federation.data.connectors import read_frame

MAX_REPORTED = 10
CHUNK_ROWS = 50_000  # rows read, checked and sent at a time
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f", ""})
VALID_ACTIONS = frozenset(a.value for a in ConsentAction)

Progress = Callable[[int, int], None]  # rows sent so far, rows in the export


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


def load_export_map(path: Path) -> ConsentExportMap:
    if not path.is_file():
        raise InputError("consent export column map not found", file=str(path))
    return parse_policy_text(path.read_text(encoding="utf-8"), ConsentExportMap, str(path))


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


def _chunks(source: str, size: int, *, checked: bool = False
            ) -> Iterator[tuple[pd.DataFrame, list[int | str]]]:
    """The export in frames of at most `size` rows, each with where its rows are (a CSV's
    line, as the strict reader counts it, or `row N`); always at least one frame, so an
    export with a header only still has its columns checked. `checked`: the strict reader
    already accepted this CSV whole, so pandas' C parser reads it again (every cell as text;
    lines then count from a plain header and no multi-line cells)."""
    if checked and _is_csv(source):
        reader = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=size,
                             encoding="utf-8-sig")
        for frame in reader:
            start = int(frame.index[0]) if len(frame) else 0
            yield frame, list(range(start + 2, start + 2 + len(frame)))
        return
    if not _is_csv(source):
        frame = read_frame(source)
        for start in range(0, max(len(frame), 1), size):
            part = frame.iloc[start:start + size]
            yield part, [f"row {i + 1}" for i in range(start, start + len(part))]
        return
    path = Path(source)
    if not path.is_file():
        raise InputError("no such file", file=source)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int | str] = []
    sent = False
    for line, row in csv_rows(path):
        if header is None:
            header = row
            continue
        rows.append(row)
        lines.append(line)
        if len(rows) >= size:
            yield pd.DataFrame(rows, columns=header, dtype=str), lines
            rows, lines, sent = [], [], True
    if rows or not sent:
        yield pd.DataFrame(rows, columns=header, dtype=str), lines


def _is_csv(source: str) -> bool:
    return "://" not in source and source.lower().endswith(".csv")


@dataclass(frozen=True)
class _Columns:
    """One chunk's columns as the map names them, parsed column-wise."""
    subject: pd.Series
    purpose: pd.Series
    action: pd.Series
    when: pd.Series
    notice: pd.Series
    channel: pd.Series
    separate: np.ndarray
    guardian: np.ndarray
    minor: np.ndarray


@dataclass
class _Errors:
    """How many bad rows, and the first few messages (file:line:column: rule)."""
    count: int = 0
    shown: list[tuple[int, str]] = field(default_factory=list)

    def add(self, order: list[int], where: list[str]) -> None:
        self.count += len(where)
        room = MAX_REPORTED - len(self.shown)
        if room > 0:
            self.shown.extend(sorted(zip(order, where, strict=True))[:room])

    def raise_if_any(self) -> None:
        if not self.count:
            return
        shown = "; ".join(w for _, w in sorted(self.shown))
        more = (f" (and {self.count - MAX_REPORTED} more)" if self.count > MAX_REPORTED
                else "")
        raise InputError(f"{self.count} bad rows, nothing imported: {shown}{more}")


@dataclass(frozen=True)
class _Check:
    """What every chunk is checked against."""
    source: str
    cmap: ConsentExportMap
    policies: PolicySet
    jurisdiction: str
    today: date

    def columns(self, frame: pd.DataFrame, lines: list[int | str], errors: _Errors
                ) -> _Columns:
        """The chunk parsed, every bad row reported (the column and the rule, never the
        value): a yes/no column that is neither first, then the first rule each row breaks,
        in the order the coordinator checks them."""
        cmap, n = self.cmap, len(frame)
        named = {f: getattr(cmap, f) for f in FIELDS}
        law = self.policies.jurisdictions[self.jurisdiction]

        def col(name_of: str) -> pd.Series:
            name = named[name_of]
            if name is not None:
                return frame[name].astype("string").fillna("").str.strip()
            return pd.Series([cmap.defaults.get(name_of, "")] * n, index=frame.index,
                             dtype="string")

        def report(mask: np.ndarray, rule: str) -> None:
            idx = np.flatnonzero(mask).tolist()
            errors.add([self._order(lines[i], i) for i in idx],
                       [f"{self.source}:{lines[i]}:{rule}" for i in idx])

        def flag(name_of: str) -> np.ndarray:
            if named[name_of] is None:
                return np.zeros(n, dtype=bool)
            values = col(name_of).str.lower()
            report(~values.isin(TRUE | FALSE).to_numpy(dtype=bool),
                   f"{named[name_of]}: not a yes/no value")
            return values.isin(TRUE).to_numpy(dtype=bool)

        words = {k.lower(): v for k, v in cmap.actions.items()}
        separate, guardian = flag("separate"), flag("by_guardian")
        subject, purpose, notice = col("subject"), col("purpose"), col("notice_version")
        lowered = col("action").str.lower()
        # A lookup table over the few distinct words: a vectorized map, not a call per row.
        action = (lowered.map({a: words.get(a, a) for a in lowered.unique().tolist()})
                  if words else lowered)
        when = _times(frame[cmap.occurred_at], cmap.time_format)
        minor = np.zeros(n, dtype=bool)
        bad_birth = np.zeros(n, dtype=bool)
        if cmap.birth_date:
            raw = col("birth_date")
            born = pd.to_datetime(raw, errors="coerce", format="ISO8601")
            known = born.notna().to_numpy(dtype=bool)
            bad_birth = (raw != "").to_numpy(dtype=bool) & ~known
            y, m, d = (born.dt.year.to_numpy(), born.dt.month.to_numpy(),
                       born.dt.day.to_numpy())
            t = self.today
            with np.errstate(invalid="ignore"):
                age = t.year - y - ((m > t.month) | ((m == t.month) & (d > t.day)))
                minor = known & (age < law.minor_age)
        grant = (action == "grant").to_numpy(dtype=bool)
        rules: list[tuple[np.ndarray, str]] = [
            ((subject == "").to_numpy(dtype=bool), f"{named['subject']}: empty customer id"),
            (~purpose.isin(list(self.policies.purposes)).to_numpy(dtype=bool),
             f"{named['purpose']}: unknown purpose"),
            (~action.isin(VALID_ACTIONS).to_numpy(dtype=bool),
             f"{named['action']}: not grant, withdraw or refuse (map it under actions)"),
            (when.isna().to_numpy(dtype=bool),
             f"{cmap.occurred_at}: not a time in the format '{cmap.time_format}'"),
            ((notice == "").to_numpy(dtype=bool),
             "notice_version: empty (give a column or a default)"),
            (bad_birth, f"{cmap.birth_date}: not an ISO date"),
            (grant & purpose.isin(list(law.separate_consent_purposes)).to_numpy(dtype=bool)
             & ~separate,
             f"{named['separate'] or 'separate'}: purpose needs separate consent under "
             f"{self.jurisdiction.upper()}"),
            (grant & minor & ~guardian,
             f"{named['by_guardian'] or 'by_guardian'}: a minor's consent must come from "
             f"a parent or guardian ({law.title})"),
        ]
        pending = np.ones(n, dtype=bool)
        for mask, rule in rules:
            hit = mask & pending
            if hit.any():
                report(hit, rule)
                pending &= ~hit
        return _Columns(subject, purpose, action, when, notice, col("channel"), separate,
                        guardian, minor)

    @staticmethod
    def _order(line: int | str, i: int) -> int:
        return line if isinstance(line, int) else i


@dataclass(frozen=True)
class PreparedImport:
    """A checked export: its counts, and its events (pseudonymous), built chunk by chunk
    from the export each time `chunks()` is iterated, so they are never all in memory."""
    rows: int
    subjects: int
    minors: int
    _check: _Check
    _minor_of: dict[str, bool]
    _brand_id: str
    _pseudonym: Callable[[str], str]
    _chunk_rows: int

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        check, errors = self._check, _Errors()
        for frame, lines in _chunks(check.source, self._chunk_rows, checked=True):
            c = check.columns(frame, lines, errors)
            errors.raise_if_any()  # the export changed since it was checked
            if len(frame):
                yield self._events(c)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event at once: for small exports and tests."""
        return [e for chunk in self.chunks() for e in chunk]

    def _events(self, c: _Columns) -> list[dict[str, Any]]:
        brand, pseudonym, minor_of = self._brand_id, self._pseudonym, self._minor_of
        out: list[dict[str, Any]] = []
        for subject, purpose, action, at, notice, channel, separate, guardian in zip(
                c.subject.tolist(), c.purpose.tolist(), c.action.tolist(), _iso(c.when),
                c.notice.tolist(), c.channel.tolist(), c.separate.tolist(),
                c.guardian.tolist(), strict=True):
            key, notice = pseudonym(subject), notice[:32]
            # idempotency_key(), inlined: the same text hashed, one dict lookup fewer a row
            digest = hashlib.sha256("\x1f".join(
                (brand, key, purpose, action, at, str(separate), str(guardian), notice)
            ).encode()).hexdigest()[:48]
            out.append({"brand_id": brand, "subject": key, "purpose": purpose,
                        "action": action, "separate": separate, "by_guardian": guardian,
                        "is_minor": minor_of[subject], "notice_version": notice,
                        "channel": (channel or "crm")[:32], "occurred_at": at,
                        "idempotency_key": "import:" + digest})
        return out


def _iso(when: pd.Series) -> list[str]:
    """`Timestamp.isoformat()` of each (UTC) time, column-wise: the text idempotency keys
    hash, so it must not change. Whole seconds in bulk; a fraction falls back per row."""
    ns = when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    out = [t + "+00:00" for t in np.datetime_as_string(ns, unit="s").tolist()]
    for i in np.flatnonzero(ns.astype(np.int64) % 1_000_000_000).tolist():
        out[i] = when.iloc[i].isoformat()
    return out


def prepare_import(source: str, cmap: ConsentExportMap, *, brand_id: str, jurisdiction: str,
                   policies: PolicySet, pseudonym: Callable[[str], str],
                   today: date | None = None, chunk_rows: int = CHUNK_ROWS
                   ) -> PreparedImport:
    """Read and check the whole export, streamed; returns the counts and a way to build the
    events to send (pseudonymous), or raises one `InputError` naming every bad row found
    (the first few), and sends nothing. A subject's minor flag is the one its first row
    gives."""
    if jurisdiction not in policies.jurisdictions:
        raise InputError(f"unknown jurisdiction '{jurisdiction}'", column="jurisdiction")
    check = _Check(source, cmap, policies, jurisdiction, today or datetime.now(UTC).date())
    errors = _Errors()
    minor_of: dict[str, bool] = {}
    rows = 0
    for k, (frame, lines) in enumerate(_chunks(source, chunk_rows)):
        if k == 0:
            missing = [getattr(cmap, f) for f in FIELDS
                       if getattr(cmap, f) is not None and getattr(cmap, f) not in frame.columns]
            if missing:
                raise InputError(f"columns named in the consent map are missing: {missing}",
                                 file=source, line=1)
        c = check.columns(frame, lines, errors)
        rows += len(frame)
        if not errors.count:
            firsts = ~c.subject.duplicated().to_numpy(dtype=bool)
            for subject, minor in zip(c.subject[firsts].tolist(), c.minor[firsts].tolist(),
                                      strict=True):
                minor_of.setdefault(subject, minor)
    errors.raise_if_any()
    if not rows:
        raise InputError("the export has no consent rows", file=source)
    return PreparedImport(rows, len(minor_of), sum(minor_of.values()), check, minor_of,
                          brand_id, pseudonym, chunk_rows)


@dataclass(frozen=True)
class ImportReport:
    rows: int
    subjects: int
    minors: int
    created: int
    replayed: int
    synced_events: int


def import_consents(node: BrandNode, *, source: str | None = None, map_path: Path | None = None,
                    policies: PolicySet | None = None, today: date | None = None,
                    progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS
                    ) -> ImportReport:
    """The brand's CRM export (its config's unless given) checked whole, pseudonymized,
    sent through the API with the brand token chunk by chunk, then synced back into the
    node's copy. `today` is the day ages are counted on (who is a minor); default: today.
    `progress(sent, rows)` is called after each chunk the coordinator accepted."""
    cfg = node.config
    source = source or cfg.consent.export
    map_path = map_path or cfg.consent.map
    if source is None or map_path is None:
        raise InputError("no consent export or map: give --file and --map, or set them under "
                         "[consent] in the node config", file=str(cfg.source), column="consent")
    prepared = prepare_import(source, load_export_map(map_path), brand_id=cfg.brand_id,
                              jurisdiction=cfg.jurisdiction,
                              policies=policies or load_policies(),
                              pseudonym=node.pseudonymizer, today=today,
                              chunk_rows=chunk_rows)
    created = replayed = sent = 0
    with node.client() as client:
        for chunk in prepared.chunks():
            out = client.import_consents(chunk)
            created, replayed = created + out["created"], replayed + out["replayed"]
            sent += len(chunk)
            if progress is not None:
                progress(sent, prepared.rows)
    synced = node.sync()
    return ImportReport(prepared.rows, prepared.subjects, prepared.minors, created, replayed,
                        synced.events)
