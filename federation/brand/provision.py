"""A brand node's directory, laid out as `comity node init` and the demo make it:

```
<brand>/brand.toml     the node's config (federation.brand.config)
<brand>/silo/          customers, orders, column_map.yaml (the brand's own data)
<brand>/crm/           the CRM's consent export and its column map
<brand>/keys/          pseudonym.key, node.key + node.pub (mode 0600 / 0700)
<brand>/state/         synced consent records
<brand>/token          the brand's API token (mode 0600)
```
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation.brand.config import CONFIG_FILE, write_brand_config
from privacy.pseudonym import Pseudonymizer


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def node_key_pair(keys: Path) -> tuple[Path, Path]:
    """The SuperNode's own key pair for Flower node authentication (ECDSA P-384, OpenSSH
    format as `flwr supernode register` expects); made once, kept at the brand."""
    private, public = keys / "node.key", keys / "node.pub"
    if not private.exists():
        key = ec.generate_private_key(ec.SECP384R1())
        write_private(private, key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.OpenSSH,
                                                 serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                         serialization.PublicFormat.OpenSSH))
    return private, public


def init_node(directory: Path, *, brand_id: str, jurisdiction: str, api: str,
              token: str | None = None, superlink: str | None = None,
              root_certificates: Path | None = None, catalogue: Path | None = None,
              aggregates: dict[str, str] | None = None) -> Path:
    """Lay out a brand node's directory and write its config; keys are made here, at the
    brand. Returns the config's path. Existing keys and data are kept."""
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("silo", "crm", "state"):
        (directory / sub).mkdir(exist_ok=True)
    keys = directory / "keys"
    Pseudonymizer.from_key_dir(keys)
    node_key_pair(keys)
    if token is not None:
        write_private(directory / "token", token.encode())
    coordinator: dict[str, str | None] = {"api": api, "token_file": "token",
                                          "superlink": superlink,
                                          "root_certificates": str(root_certificates)
                                          if root_certificates else None}
    values: dict[str, object] = {
        "brand_id": brand_id, "jurisdiction": jurisdiction,
        "silo": {"dir": "silo", "catalogue": str(catalogue) if catalogue else None},
        "consent": {"export": "crm/consents.csv", "map": "crm/consent_map.yaml"},
        "keys": {"dir": "keys"}, "state": {"dir": "state"},
        "aggregates": aggregates or {}, "coordinator": coordinator}
    return write_brand_config(directory / CONFIG_FILE, values)
