"""`comity serve` as a subprocess on a free loopback port, for benchmarks against the real
server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from federation.runtime.deployment import free_port


@contextmanager
def api_server(env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, int]]:
    """Yields (base URL, port) once /healthz answers; stops the server on exit."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                               "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the API server did not become healthy")
        yield base, port
    finally:
        server.terminate()
        server.wait(timeout=20)
