"""The coordinator's side of the wire audit: a Grid that inspects every reply pulled from the
brands with the same rules as the brands' own mod (`federation.gate.wire`) before any strategy
or workflow sees it; a violation stops the run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

from federation.errors import WireViolation
from federation.gate.wire import Capture, inspect_content


class AuditingGrid(Grid):
    """The coordinator's side: every reply pulled from the brands is inspected with the same
    rules before any strategy or workflow sees it; a violation stops the run."""

    def __init__(self, inner: Grid) -> None:
        self.inner = inner
        self.captures: list[Capture] = []
        self.populations: dict[int, list[int]] = {}

    def declare(self, node_id: int, *counts: int) -> None:
        self.populations[node_id] = [int(c) for c in counts]

    def _check(self, replies: Iterable[Message]) -> list[Message]:
        out = list(replies)
        for m in out:
            if m.has_error():
                continue
            node = m.metadata.src_node_id
            cap = inspect_content(m.content, brand=str(node),
                                  message_type=m.metadata.message_type,
                                  population=self.populations.get(node, []))
            self.captures.append(cap)
            if cap.violations:
                raise WireViolation(f"node {node}: " + "; ".join(cap.violations[:3]))
        return out

    @property
    def run(self) -> Any:
        return self.inner.run

    def set_run(self, run: Any) -> None:
        self.inner.set_run(run)

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self.inner.get_node_ids()

    def get_nodes(self) -> Iterable[Any]:
        return self.inner.get_nodes()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.inner.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._check(self.inner.pull_messages(message_ids))

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self._check(self.inner.send_and_receive(messages, timeout=timeout))

    def summary(self) -> dict[str, Any]:
        """For the audit log: what crossed, by kind, and one digest over all of it."""
        kinds: dict[str, int] = {}
        total = hashlib.sha256()
        size = 0
        for cap in self.captures:
            for e in cap.entries:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
                size += e.nbytes
                total.update(e.sha256.encode())
        return {"messages": len(self.captures), "entries": kinds, "bytes": size,
                "violations": sum(len(c.violations) for c in self.captures),
                "capture_sha256": total.hexdigest()}
