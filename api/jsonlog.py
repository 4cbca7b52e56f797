"""Structured logs: one JSON object per line, for a log shipper, behind a flag
(`COMITY_LOG_FORMAT=json` or `comity serve --log-json`); plain logging otherwise.

Each HTTP request is one `http.request` event with method, route *template*, status and
duration: never the path or query a client sent, its address or a header (paths carry
pseudonyms; an IP address is personal data, GDPR Recital 30). Other records keep their
message, which our code builds with `privacy.pii.Pii` for identifiers; an exception is logged
by its type only, since a traceback's locals and messages may hold input values.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

ENV = "COMITY_LOG_FORMAT"
# Loggers that write the URL or client address of every request at INFO: held at WARNING.
URL_LOGGERS = ("httpx", "httpcore", "uvicorn.access")
_http = logging.getLogger("comity.http")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "event": record.getMessage()}
        event.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            event["exc_type"] = record.exc_info[0].__name__
        return json.dumps(event, ensure_ascii=False, default=str)


class JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler `configure` installs; one per process."""


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() == "json"


def configure(stream: IO[str] | None = None, level: int = logging.INFO) -> JsonHandler:
    """Route every log record through one JSON handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, JsonHandler):
            return h
    handler = JsonHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler


def log_request(method: str, route: str, status: int, seconds: float) -> None:
    """One event per request; costs nothing unless INFO is on for `comity.http`."""
    if _http.isEnabledFor(logging.INFO):
        _http.info("http.request", extra={"fields": {
            "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3)}})
