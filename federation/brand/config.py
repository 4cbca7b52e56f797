"""A brand node's own configuration: one TOML file at the brand (`brand.toml`), the only place
a brand node learns anything from. It names the brand, its silo and column map, where its
consent records come from, its own key directory, its local state, and how it reaches the
coordinator (API URL and brand token, SuperLink address, TLS root). It has no field for the
coordinator's database or master key, and refuses any field it does not know.

Relative paths are read relative to the file itself, so a brand's directory can move whole.

```toml
brand_id = "lumen-tea"
jurisdiction = "pipl"

[silo]
dir = "silo"                    # customers, orders and column_map.yaml
catalogue = "catalogue.csv"     # the alliance catalogue the coordinator published

[consent]
export = "crm/consents.csv"     # CSV, Parquet or <sqlalchemy-url>#<table>
map = "crm/consent_map.yaml"

[keys]
dir = "keys"                    # pseudonym.key, node.key / node.pub

[state]
dir = "state"                   # synced consent records, released models

[aggregates]                    # datasets this brand answers DP aggregates from
alliance_segments = "segments.parquet"

[coordinator]
api = "https://coordinator.example:8080"
token_file = "token"
superlink = "coordinator.example:9092"
root_certificates = "certs/ca.crt"   # absent: plain HTTP and --insecure (tests only)
audit_public_key = "3b6a...e1"       # the coordinator's audit key (hex); absent: pinned on
                                     # first use in state/witness.sqlite
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compliance.errors import InputError
from federation.data.column_map import BRAND_ID
from federation.data.silo import COLUMN_MAP_FILE
from federation.settings import toml_value

CONFIG_FILE = "brand.toml"
BRAND_CONFIG_KEY = "brand-config"  # the SuperNode node config naming this file


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SiloSection(_Section):
    dir: Path
    catalogue: Path | None = None


class ConsentSection(_Section):
    export: str | None = None
    map: Path | None = None


class KeysSection(_Section):
    dir: Path


class StateSection(_Section):
    dir: Path


class CoordinatorSection(_Section):
    api: str = Field(pattern=r"^https?://[^\s/]+(/.*)?$")
    token_file: Path
    superlink: str | None = Field(None, pattern=r"^[^\s:/]+:\d{1,5}$")
    root_certificates: Path | None = None
    # Ed25519 key (hex) that signs the audit log's checkpoints, as the operator published it
    audit_public_key: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class BrandConfig(_Section):
    brand_id: str = Field(pattern=BRAND_ID)
    jurisdiction: str = "pipl"
    silo: SiloSection
    consent: ConsentSection = ConsentSection()
    keys: KeysSection
    state: StateSection
    coordinator: CoordinatorSection
    # DP aggregate datasets this brand answers for: dataset name -> its own file
    aggregates: dict[str, Path] = Field(default_factory=dict)
    source: Path = Field(Path(CONFIG_FILE), exclude=True)  # where it was read from

    @property
    def node_key(self) -> Path:
        """The SuperNode's private key for node authentication (OpenSSH ECDSA)."""
        return self.keys.dir / "node.key"

    @property
    def node_public_key(self) -> Path:
        return self.keys.dir / "node.pub"

    @property
    def catalogue(self) -> Path:
        return self.silo.catalogue or self.silo.dir.parent / "catalogue.csv"

    def token(self) -> str:
        path = self.coordinator.token_file
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError:
            raise InputError("the brand token file cannot be read",
                             file=str(path)) from None
        if not token:
            raise InputError("the brand token file is empty", file=str(path))
        return token


def _resolve(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Every path-valued field relative to the config file's directory."""
    paths = {("silo", "dir"), ("silo", "catalogue"), ("consent", "map"), ("keys", "dir"),
             ("state", "dir"), ("coordinator", "token_file"),
             ("coordinator", "root_certificates")}
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for section, key in paths:
        table = out.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = str((base / table[key]).resolve())
    consent = out.get("consent")
    if isinstance(consent, dict) and isinstance(consent.get("export"), str) \
            and "://" not in consent["export"]:
        consent["export"] = str((base / consent["export"]).resolve())
    aggregates = out.get("aggregates")
    if isinstance(aggregates, dict):
        out["aggregates"] = {k: str((base / v).resolve()) if isinstance(v, str) else v
                             for k, v in aggregates.items()}
    return out


def load_brand_config(path: Path) -> BrandConfig:
    """Read and check a brand node's config: TOML syntax, known fields only, and a silo that
    exists with its column map. Errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("brand node config not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the brand node config ({type(exc).__name__})",
                         file=str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        config = BrandConfig.model_validate({**_resolve(raw, path.resolve().parent),
                                             "source": str(path.resolve())})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=str(path), column=field) from None
    if not (config.silo.dir / COLUMN_MAP_FILE).is_file():
        raise InputError(f"silo directory {config.silo.dir} has no {COLUMN_MAP_FILE}",
                         file=str(path), column="silo.dir")
    return config


def write_brand_config(path: Path, values: dict[str, Any]) -> Path:
    """Write a config as TOML (the values checked first, so a written config always loads)."""
    BrandConfig.model_validate({**_resolve(values, path.resolve().parent),
                                "source": str(path)})
    lines: list[str] = []
    for key, value in values.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {toml_value(value)}")
    for key, value in values.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in value.items() if v is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


