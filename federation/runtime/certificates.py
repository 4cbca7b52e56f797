"""Certificates for the Flower deployment: a private CA and a SuperLink server certificate
(TLS), plus one ECDSA key pair per SuperNode (node authentication). Made with
`cryptography`, so no openssl binary is needed; private keys are written mode 0600.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertificateSet:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    node_keys: dict[str, tuple[Path, Path]]  # brand -> (private, public)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey, *, ssh: bool = False) -> None:
    """SuperNode keys in OpenSSH format (what `ssh-keygen -t ecdsa` makes and Flower reads);
    the TLS key as PKCS#8 PEM."""
    fmt = serialization.PrivateFormat.OpenSSH if ssh else serialization.PrivateFormat.PKCS8
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "comity"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(out: Path, *, hosts: list[str], nodes: list[str],
                      days: int = 365) -> CertificateSet:
    """`hosts` are the names and IPs the SuperLink is reached by (subject alternative
    names); `nodes` the SuperNodes that get an authentication key pair."""
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = (x509.CertificateBuilder().subject_name(_name("comity federation CA"))
          .issuer_name(_name("comity federation CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA384()))
    server_key = ec.generate_private_key(ec.SECP384R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    server = (x509.CertificateBuilder().subject_name(_name(hosts[0]))
              .issuer_name(ca.subject).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now)
              .not_valid_after(now + timedelta(days=days))
              .add_extension(x509.SubjectAlternativeName(sans), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA384()))
    paths = CertificateSet(out / "ca.crt", out / "server.pem", out / "server.key", {})
    paths.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_private(paths.server_key, server_key)
    for node in nodes:
        key = ec.generate_private_key(ec.SECP384R1())
        private, public = out / f"{node}.key", out / f"{node}.pub"
        _write_private(private, key, ssh=True)
        public.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
        paths.node_keys[node] = (private, public)
    return paths
