"""Group commit for consent writes, with admission control in front of it.

One writer thread per process takes every request waiting for it, appends their events in
one transaction with one audit append (the hash chain extended in arrival order) and
commits once: one fsync for the group instead of one per request. A request is answered
only after the commit that holds its event, so durability is the database's
(`COMITY_SQLITE_SYNCHRONOUS`, FULL by default: a 201 survives power loss).

Admission: with `min_queue` or more waiting, a request that would wait longer than
`max_wait_s` is refused at once with `OverloadedError` (503 and Retry-After), before anything
is written, and so is one that waited `queue_deadline_s` in the queue anyway; a retry
under the same Idempotency-Key is then safe (it either finds the first event or writes it).
Refusing early is what keeps the accepted requests' latency bounded and the server's sockets
open under overload. The wait is estimated from measured service time (`ServiceTime`: a
moving average of recent group commits), in whole groups: a request that the next commit
will take anyway costs that commit little, so it is not refused for the queue's length alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compliance.consent.errors import OverloadedError
from compliance.consent.schemas import ConsentOut
from compliance.consent.service import ConsentService, ConsentWrite
from compliance.errors import ComityError

if TYPE_CHECKING:
    from compliance.database import Database
    from compliance.policy.schemas import PolicySet

Result = tuple[ConsentOut, bool]


@dataclass
class _Waiting:
    write: ConsentWrite
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]
    since: float = field(default_factory=time.monotonic)


def _settle(items: list[tuple[_Waiting, Result | BaseException]]) -> None:
    """On the requests' event loop: hand each waiting request its answer."""
    for item, result in items:
        if item.future.done():
            continue  # the client went away
        if isinstance(result, BaseException):
            item.future.set_exception(result)
        else:
            item.future.set_result(result)


class ServiceTime:
    """How long a group commit takes here and now: an exponentially weighted moving average
    of the measured durations of recent group commits (`alpha` the weight of the newest), so
    the estimate follows a machine that is busy with other work, or a slower disk, instead
    of a fixed per-request figure.

    With group commit a queued request waits for the group being written, then for the
    groups ahead of it and its own, each taking up to `max_batch` requests: its wait is
    counted in groups, not in requests (one fsync per group is most of a group's cost)."""

    def __init__(self, initial_s: float = 0.005, alpha: float = 0.2) -> None:
        if not 0 < alpha <= 1 or initial_s <= 0:
            raise ValueError("alpha must be in (0, 1] and initial_s positive")
        self.alpha, self.group_s = alpha, initial_s

    def observe(self, seconds: float) -> None:
        """A group commit just took `seconds`."""
        self.group_s += self.alpha * (max(seconds, 1e-5) - self.group_s)

    def wait(self, queued: int, busy: bool, max_batch: int) -> float:
        """Seconds until a request queued now behind `queued` others is committed."""
        groups = -(-(queued + 1) // max_batch) + (1 if busy else 0)
        return groups * self.group_s


class ConsentWriter:
    """`record` from any event loop; the writer thread starts on the first request and
    stops after `linger_s` without one."""

    def __init__(self, db: Database, policies: PolicySet, *, max_batch: int = 512,
                 max_wait_s: float | None = None, linger_s: float = 2.0) -> None:
        self.db, self.policies = db, policies
        self.max_batch = max_batch
        self.max_wait_s = (float(os.environ.get("COMITY_CONSENT_MAX_WAIT_MS", "40")) / 1000
                           if max_wait_s is None else max_wait_s)
        self.linger_s = linger_s
        # Never refused while fewer wait (a burst of a few clients is not overload), and the
        # backstop: a request the estimate let in but that still waited this long.
        self.min_queue = 32
        self.queue_deadline_s = max(2 * self.max_wait_s, 0.5)
        self._queue: deque[_Waiting] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.service = ServiceTime()
        self._busy = 0  # requests in the group being written now

    def _expected_wait(self) -> float:
        """How long a request queued now would wait for its commit: the group being written,
        then the queue ahead of it, in groups, by what recent group commits took."""
        return self.service.wait(len(self._queue), self._busy > 0, self.max_batch)

    def _retry_after(self) -> str:
        """Whole seconds (RFC 9110 §10.2.3): the queue drains well within one."""
        return "1"

    async def record(self, write: ConsentWrite) -> Result:
        """The event's answer once its group committed; `OverloadedError` at once when the
        writer is too far behind."""
        loop = asyncio.get_running_loop()
        item = _Waiting(write, loop, loop.create_future())
        with self._cond:
            if len(self._queue) >= self.min_queue and self._expected_wait() > self.max_wait_s:
                raise OverloadedError(self._retry_after())
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="consent-writer",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return await item.future

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(self.linger_s)
                if not self._queue:
                    self._thread = None
                    return
                group = [self._queue.popleft()
                         for _ in range(min(self.max_batch, len(self._queue)))]
                self._busy = len(group)
            self._write(group)

    def _write(self, group: list[_Waiting]) -> None:
        start = time.monotonic()
        late: list[_Waiting] = []
        if len(group) >= self.min_queue:  # overload, not a slow first commit
            late = [w for w in group if start - w.since > self.queue_deadline_s]
            group = [w for w in group if start - w.since <= self.queue_deadline_s]
        answers: list[tuple[_Waiting, Result | BaseException]] = [
            (w, OverloadedError(self._retry_after())) for w in late]
        if group:
            answers.extend(self._commit(group))
        cost = time.monotonic() - start
        with self._cond:
            self._busy = 0
            if group:  # a group of late requests alone committed nothing
                self.service.observe(cost)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, Result | BaseException]]
                      ] = {}
        for item, result in answers:
            by_loop.setdefault(item.loop, []).append((item, result))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, items)

    def _commit(self, group: list[_Waiting]) -> list[tuple[_Waiting, Result | BaseException]]:
        """One transaction for the group; if it fails while writing, each request again in
        its own transaction, so that one request's failure is its own."""
        try:
            with self.db.unit_of_work() as session:
                results = ConsentService(session).record_group(
                    [w.write for w in group], policies=self.policies, serialized=True)
            return list(zip(group, results, strict=True))
        except Exception:  # noqa: BLE001 - every request gets its own answer below
            return [(w, self._alone(w)) for w in group]

    def _alone(self, w: _Waiting) -> Result | BaseException:
        try:
            with self.db.unit_of_work() as session:
                result = ConsentService(session).record_group(
                    [w.write], policies=self.policies)[0]
                if isinstance(result, ComityError):
                    raise result
                return result
        except Exception as exc:  # noqa: BLE001 - raised in the request's own task
            return exc
