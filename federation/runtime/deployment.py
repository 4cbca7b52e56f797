"""The real deployment path on one machine: a Flower SuperLink and one SuperNode per brand as
separate processes on loopback, and `flwr run` submitting our app to them. Tests use it;
`docker-compose.yml` is the same topology across machines.

TLS (a private CA, see `certificates.py`) and SuperNode authentication (each brand's own
public key, made at the brand, registered with `flwr supernode register` before the node
starts) are both optional.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from federation.brand.config import load_brand_config
from federation.brand.supernode import executable, node_env
from federation.runtime.certificates import CertificateSet
from federation.settings import toml_value

FEDERATION = "comity-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_flwr_config(home: Path, superlink: str, root_certificates: Path | None) -> Path:
    """Where `flwr run` finds the federation: `FLWR_HOME/config.toml`, not pyproject.toml."""
    conn = (f'root-certificates = "{root_certificates}"' if root_certificates
            else "insecure = true")
    path = home / "config.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[superlink]\ndefault = "{FEDERATION}"\n\n[superlink.{FEDERATION}]\n'
                    f'address = "{superlink}"\n{conn}\n')
    return path


def run_args(app_dir: Path, run_config: dict[str, Any]) -> list[str]:
    overrides = " ".join(f"{k}={toml_value(v)}" for k, v in run_config.items())
    return ["run", str(app_dir), FEDERATION, "--stream", "--run-config", overrides]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class LocalDeployment:
    """The coordinator's SuperLink (its environment carries the coordinator's database and
    keys) and one SuperNode per brand, each started by `comity node start` from the brand's
    own config with an environment scrubbed of the coordinator's settings."""

    workdir: Path
    nodes: dict[str, Path]  # brand -> its brand.toml
    certificates: CertificateSet | None = None
    node_auth: bool = False
    coordinator_env: dict[str, str] = field(default_factory=dict)
    brand_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    supernodes: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = field(
        default_factory=dict)

    @property
    def brands(self) -> list[str]:
        return list(self.nodes)

    @property
    def flwr_home(self) -> Path:
        return self.workdir / "flwr-home"

    @property
    def superlink(self) -> str:
        return f"127.0.0.1:{self.port}"

    def coordinator_environ(self) -> dict[str, str]:
        return {**os.environ, **self.coordinator_env, "FLWR_HOME": str(self.flwr_home)}

    def brand_environ(self) -> dict[str, str]:
        return node_env({**os.environ, **self.brand_env, "FLWR_HOME": str(self.flwr_home)})

    def _spawn(self, name: str, args: list[str], env: dict[str, str]
               ) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=self.workdir)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> LocalDeployment:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flwr_home.mkdir(exist_ok=True)
        tls = self.certificates
        # No runtime installs: the SuperLink would otherwise `uv sync` the app's
        # dependencies from the network (a CUDA torch among them) into a fresh env per run.
        link = [executable("flower-superlink"), "--port", str(self.port),
                "--database", str(self.workdir / "superlink.db"),
                "--disable-runtime-dependency-installation"]
        link += (["--ssl-ca-certfile", str(tls.ca_cert), "--ssl-certfile", str(tls.server_cert),
                  "--ssl-keyfile", str(tls.server_key)] if tls else ["--insecure"])
        if self.node_auth:
            link.append("--enable-supernode-auth")
        self._spawn("superlink", link, self.coordinator_environ())
        self._wait_port(self.port, "superlink")
        write_flwr_config(self.flwr_home, self.superlink,
                          tls.ca_cert if tls else None)
        for i, (brand, path) in enumerate(self.nodes.items()):
            config = load_brand_config(path)
            if self.node_auth:
                self._flwr(["supernode", "register", str(config.node_public_key), FEDERATION],
                           timeout=60)
            node = [executable("comity"), "node", "start", "--config", str(path),
                    "--superlink", self.superlink, "--port", str(free_port()),
                    "--node-auth" if self.node_auth else "--no-node-auth"]
            if tls:
                node += ["--root-certificates", str(tls.ca_cert)]
            self.supernodes[brand] = (node, self._spawn(f"supernode-{i}", node,
                                                        self.brand_environ()))
        return self

    def kill_node(self, brand: str) -> None:
        """SIGKILL one brand's SuperNode (and the ClientApp it runs): a crash, not a stop."""
        _, proc = self.supernodes[brand]
        for pid in _descendants(proc.pid):
            _kill(pid)
        proc.kill()
        proc.wait(timeout=15)

    def restart_node(self, brand: str) -> None:
        args, _ = self.supernodes[brand]
        i = list(self.supernodes).index(brand)
        self.supernodes[brand] = (args, self._spawn(f"supernode-{i}", args,
                                                    self.brand_environ()))

    def kill_serverapp(self) -> int:
        """SIGKILL the ServerApp processes the SuperLink started (the coordinator)."""
        link = self.procs[0].pid
        victims = [pid for pid in _descendants(link) if b"flwr-serverapp" in _cmdline(pid)]
        for pid in victims:
            _kill(pid)
        return len(victims)

    def submit(self, app_dir: Path, run_config: dict[str, Any]) -> subprocess.Popen[str]:
        """`flwr run` without waiting: the caller injects faults while it runs."""
        return subprocess.Popen([executable("flwr"), *run_args(app_dir, run_config)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=self.coordinator_environ(), cwd=self.workdir)

    def _wait_port(self, port: int, name: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"{name} exited early:\n{self.log(name)[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not listen on {port} within {timeout:.0f} s")

    def _flwr(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([executable("flwr"), *args], capture_output=True, text=True,
                              env=self.coordinator_environ(), cwd=self.workdir,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"flwr {' '.join(args[:2])} failed:\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
        return proc

    def run(self, app_dir: Path, run_config: dict[str, Any], *, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
        """Submit the app and follow it to the end (`--stream`)."""
        return self._flwr(run_args(app_dir, run_config), timeout=timeout)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
