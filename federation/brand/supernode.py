"""Starting a brand's Flower SuperNode from its node config: the SuperLink address, TLS root,
the node's own authentication key, and the node config that names the brand and its config
file. The SuperNode's environment is scrubbed of the coordinator's settings (database URLs,
master key, key directory): a brand node holds none of them, even by accident."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from compliance.errors import InputError
from federation.brand.config import BRAND_CONFIG_KEY, BrandConfig

# Coordinator-only settings; a brand node's environment never carries them.
COORDINATOR_ONLY = ("COMITY_DATABASE_URL", "COMITY_KEYSTORE_URL", "COMITY_MASTER_KEY",
                    "COMITY_KEY_DIR", "COMITY_TEST_POSTGRES_URL")


def executable(name: str) -> str:
    """The console script next to this interpreter (a venv need not be activated)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise InputError(f"'{name}' not found; is flwr installed?")
    return found


def node_env(base: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in base.items() if k not in COORDINATOR_ONLY}


def supernode_args(config: BrandConfig, *, superlink: str | None = None,
                   port: int | None = None, node_auth: bool | None = None,
                   root_certificates: Path | None = None) -> list[str]:
    """`flower-supernode` arguments for this brand. TLS when the config (or
    `root_certificates`) names a root certificate, plain `--insecure` otherwise; node
    authentication when `node_auth` asks for it, or by default whenever TLS is on and the node
    has its key (Flower authenticates nodes over TLS only)."""
    address = superlink or config.coordinator.superlink
    if not address:
        raise InputError("no SuperLink address: set coordinator.superlink in the node config "
                         "or pass --superlink", file=str(config.source),
                         column="coordinator.superlink")
    node_config = (f"brand-id={json.dumps(config.brand_id)} "
                   f"{BRAND_CONFIG_KEY}={json.dumps(str(config.source))}")
    args = [executable("flower-supernode"), "--superlink", address, "--node-config",
            node_config]
    if port is not None:
        args += ["--port", str(port)]
    root = root_certificates or config.coordinator.root_certificates
    args += ["--root-certificates", str(root)] if root else ["--insecure"]
    use_auth = (bool(root) and config.node_key.exists()) if node_auth is None else node_auth
    if use_auth and not root:
        raise InputError("node authentication needs TLS: name the alliance CA under "
                         "coordinator.root_certificates", file=str(config.source),
                         column="coordinator.root_certificates")
    if use_auth:
        if not config.node_key.exists():
            raise InputError("node authentication needs the node's key (comity node init)",
                             file=str(config.node_key))
        args += ["--auth-supernode-private-key", str(config.node_key)]
    return args


def exec_supernode(config: BrandConfig, **kw: object) -> None:
    """Replace this process with the SuperNode (signals then reach it directly)."""
    args = supernode_args(config, **kw)  # type: ignore[arg-type]
    os.execve(args[0], args, node_env(os.environ))
