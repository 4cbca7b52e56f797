"""The API served from a thread on loopback: the same app and routes as `comity serve`, for the
demo (its brand nodes reach the coordinator through the API, as in a deployment) and tests."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from api.app import create_app
from api.limits import Limits
from compliance.database import Database
from federation.runtime.deployment import free_port


class LocalApi:
    def __init__(self, db: Database, *, port: int | None = None,
                 limits: Limits | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(create_app(db, limits=limits), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="comity-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalApi:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
