"""Where secret keys come from: the environment or a key file, never the code.

`COMITY_MASTER_KEY` (64 hex chars) wins; otherwise a key file under the key directory
(`COMITY_KEY_DIR`, default `.comity/keys`) is created once with mode 0600 and reused.
Purpose-specific keys are derived with HKDF so one master key never serves two uses.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from compliance.errors import ComityError


def key_dir() -> Path:
    return Path(os.environ.get("COMITY_KEY_DIR", Path(".comity") / "keys"))


def master_key() -> bytes:
    env = os.environ.get("COMITY_MASTER_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise ComityError("COMITY_MASTER_KEY is not hex") from None
        if len(key) != 32:
            raise ComityError("COMITY_MASTER_KEY must be 32 bytes (64 hex characters)")
        return key
    return secret_file("master.key", 32)


def secret_file(name: str, nbytes: int, directory: Path | None = None) -> bytes:
    """A random secret kept in `directory` (default: the key directory), created once with
    mode 0600 (the directory 0700)."""
    path = (directory or key_dir()) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(nbytes))
    value = bytes.fromhex(path.read_text().strip())
    if len(value) != nbytes:
        raise ComityError(f"key file {path} does not hold a {nbytes}-byte hex key")
    return value


def audit_signing_key() -> Ed25519PrivateKey:
    """The coordinator's Ed25519 key that signs audit checkpoints (RFC 8032)."""
    return Ed25519PrivateKey.from_private_bytes(secret_file("audit-signing.key", 32))


def master_versions() -> dict[int, bytes]:
    """All master keys by version: `master.key` is version 1, `master-v<N>.key` later ones
    (made by rotation). `COMITY_MASTER_KEY` stands in for version 1."""
    out = {1: master_key()}
    for path in sorted(key_dir().glob("master-v*.key")):
        try:
            version = int(path.stem.removeprefix("master-v"))
        except ValueError:
            continue
        key = bytes.fromhex(path.read_text().strip())
        if len(key) != 32:
            raise ComityError(f"key file {path} does not hold a 32-byte hex key")
        out[version] = key
    return out


def new_master_version() -> int:
    """Create the next master key version (for rotation) and return its number."""
    version = max(master_versions()) + 1
    path = key_dir() / f"master-v{version}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return version


def derive_key(purpose: str, context: str = "", master: bytes | None = None) -> bytes:
    """A 32-byte key for one purpose (and e.g. one brand), via HKDF-SHA256 (RFC 5869)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"comity:{purpose}:{context}".encode())
    return hkdf.derive(master if master is not None else master_key())
