"""The brand's outermost client mod: every reply is checked against the wire rules
(`federation.gate.wire`) exactly as it would leave the brand; a violation turns the reply into
an error so it never leaves. Captures go to a JSON-lines file per brand when asked for.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from flwr.app import ConfigRecord, Context, Error, Message
from flwr.clientapp.typing import ClientAppCallable

from federation.gate.wire import Capture, inspect_content

CAPTURE_ENV = "COMITY_WIRE_AUDIT_DIR"
WIRE_ERROR_CODE = 451  # "unavailable for legal reasons": the reply was withheld


class CaptureLog:
    """Appends captures as JSON lines; one file per brand, safe across threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def write(self, cap: Capture) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = cap.to_json() + "\n"
        with self._lock, open(self.directory / f"{cap.brand or 'node'}.jsonl", "a",
                              encoding="utf-8") as f:
            f.write(line)


def declare_population(context: Context, *counts: int) -> None:
    """Called by the ClientApp once it knows its data: the row counts no array may mirror."""
    context.state.config_records["wire-audit"] = ConfigRecord(
        {"population": [int(c) for c in counts] or [0]})


def _population(context: Context) -> list[int]:
    rec = context.state.config_records.get("wire-audit")
    return [int(v) for v in rec["population"]] if rec else []  # type: ignore[union-attr]


def _brand(context: Context) -> str:
    return str(context.node_config.get("brand-id", context.node_config.get("partition-id",
                                                                            "node")))


def wire_audit_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Outermost client mod: sees each reply exactly as it would leave the brand."""
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    cap = inspect_content(reply.content, brand=_brand(context),
                          message_type=msg.metadata.message_type,
                          population=_population(context))
    directory = context.node_config.get("wire-audit-dir") or os.environ.get(CAPTURE_ENV)
    if directory:
        CaptureLog(Path(str(directory))).write(cap)
    if cap.violations:
        return Message(Error(code=WIRE_ERROR_CODE, reason="wire audit withheld the reply: "
                             + "; ".join(cap.violations[:3])), reply_to=msg)
    return reply
