"""The real deployment path on one machine: a Flower SuperLink and one SuperNode per brand as
separate processes on loopback, and `flwr run` submitting our app to them. Tests use it;
`docker-compose.yml` is the same topology across machines.

TLS (a private CA, see `certificates.py`) and SuperNode authentication (each brand's public
key registered with `flwr supernode register` before the node starts) are both optional.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from federation.runtime.certificates import CertificateSet

FEDERATION = "comity-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    """The console script next to this interpreter (a venv need not be activated)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"'{name}' not found; is flwr installed?")
    return found


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))


def _run_args(app_dir: Path, run_config: dict[str, Any]) -> list[str]:
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
    workdir: Path
    brands: list[str]
    certificates: CertificateSet | None = None
    node_auth: bool = False
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    nodes: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = field(default_factory=dict)

    @property
    def flwr_home(self) -> Path:
        return self.workdir / "flwr-home"

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "FLWR_HOME": str(self.flwr_home)}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self._env(),
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
        link = [_bin("flower-superlink"), "--port", str(self.port),
                "--database", str(self.workdir / "superlink.db"),
                "--disable-runtime-dependency-installation"]
        link += (["--ssl-ca-certfile", str(tls.ca_cert), "--ssl-certfile", str(tls.server_cert),
                  "--ssl-keyfile", str(tls.server_key)] if tls else ["--insecure"])
        if self.node_auth:
            link.append("--enable-supernode-auth")
        self._spawn("superlink", link)
        self._wait_port(self.port, "superlink")
        conn = (f'root-certificates = "{tls.ca_cert}"' if tls else "insecure = true")
        (self.flwr_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{FEDERATION}"\n\n[superlink.{FEDERATION}]\n'
            f'address = "127.0.0.1:{self.port}"\n{conn}\n')
        for i, brand in enumerate(self.brands):
            node = [_bin("flower-supernode"), "--superlink", f"127.0.0.1:{self.port}",
                    "--port", str(free_port()), "--node-config", f"brand-id={json.dumps(brand)}"]
            node += ["--root-certificates", str(tls.ca_cert)] if tls else ["--insecure"]
            if self.node_auth:
                if tls is None or brand not in tls.node_keys:
                    raise ValueError(f"node authentication needs a key pair for '{brand}'")
                private, public = tls.node_keys[brand]
                self._flwr(["supernode", "register", str(public), FEDERATION], timeout=60)
                node += ["--auth-supernode-private-key", str(private)]
            self.nodes[brand] = (node, self._spawn(f"supernode-{i}", node))
        return self

    def kill_node(self, brand: str) -> None:
        """SIGKILL one brand's SuperNode (and the ClientApp it runs): a crash, not a stop."""
        _, proc = self.nodes[brand]
        for pid in _descendants(proc.pid):
            _kill(pid)
        proc.kill()
        proc.wait(timeout=15)

    def restart_node(self, brand: str) -> None:
        args, _ = self.nodes[brand]
        i = list(self.nodes).index(brand)
        self.nodes[brand] = (args, self._spawn(f"supernode-{i}", args))

    def kill_serverapp(self) -> int:
        """SIGKILL the ServerApp processes the SuperLink started (the coordinator)."""
        link = self.procs[0].pid
        victims = [pid for pid in _descendants(link) if b"flwr-serverapp" in _cmdline(pid)]
        for pid in victims:
            _kill(pid)
        return len(victims)

    def submit(self, app_dir: Path, run_config: dict[str, Any]) -> subprocess.Popen[str]:
        """`flwr run` without waiting: the caller injects faults while it runs."""
        return subprocess.Popen([_bin("flwr"), *_run_args(app_dir, run_config)],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self._env(),
                                cwd=self.workdir)

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
        proc = subprocess.run([_bin("flwr"), *args], capture_output=True, text=True,
                              env=self._env(), cwd=self.workdir, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"flwr {' '.join(args[:2])} failed:\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
        return proc

    def run(self, app_dir: Path, run_config: dict[str, Any], *, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
        """Submit the app and follow it to the end (`--stream`)."""
        return self._flwr(_run_args(app_dir, run_config), timeout=timeout)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
