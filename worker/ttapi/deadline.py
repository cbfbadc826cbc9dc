"""A total deadline on every TTAPI request, and whether a failed request was sent at all.

urllib3's timeouts bound each socket operation, not a request: a big blend uploaded slowly, or
an answer trickled byte by byte, outlives them by far. The engine takes a submit for lost after
its HTTP timeouts plus its stall time and may resubmit it; a POST still going then could create
a second job. So every request runs as a `Call` with one deadline for all of it: the connect
and the TLS handshake within a connect timeout cut to what is left of it, and from then on
(upload, answer) a watchdog thread that shuts the socket when the deadline passes; a body is
written in pieces with the deadline checked before each one.

A `Call` also notes whether any byte of the request was written (`sent`). Only a request that
wrote nothing (no connection, a failed TLS handshake or certificate) surely created no job: a
TLS error once the request was written (a proxy aborting after forwarding it) may follow a
created job, like any other connection lost after the send.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

log = logging.getLogger(__name__)
PIECE = 64 * 1024  # a body is written in pieces this big, the deadline checked before each


@dataclass(eq=False)
class Call:
    """One request under way: its deadline (monotonic), and what happened to it so far."""

    deadline: float
    sent: bool = False  # a byte of the request was handed to the socket
    expired: bool = False  # the watchdog shut it at its deadline
    finished: bool = False
    sock: Any = None  # the socket it uses, once connected (a response may outlive its conn)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def abort(self) -> None:
        """The deadline passed: shut the socket, so whatever blocks on it fails at once."""
        with self.lock:
            if self.finished:
                return
            self.expired = True
            sock = self.sock
        if sock is not None:
            # socket.socket's own shutdown: SSLSocket's would also drop its TLS state under
            # the thread still using it.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread per process that aborts the calls still running at their deadline."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._order = itertools.count()
        self._reset()
        # A forked child (a prefork pool's) starts with no thread and a lock no one holds.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._heap: list[tuple[float, int, Call]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, call: Call) -> None:
        """Abort `call` at its deadline unless it finished by then."""
        with self._wake:
            earliest = not self._heap or call.deadline < self._heap[0][0]
            heapq.heappush(self._heap, (call.deadline, next(self._order), call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ttapi-deadlines")
                self._thread.daemon = True
                self._thread.start()
            elif earliest:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)  # most calls end long before their deadline
                wait = self._heap[0][0] - self._monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    continue
                call = heapq.heappop(self._heap)[2]
            try:
                call.abort()
            except Exception:  # never let the one watchdog of the process die
                log.exception("aborting a TTAPI request at its deadline failed")


WATCHDOG = Watchdog()
_local = threading.local()


def current() -> Call | None:
    """The call this thread is making, if any."""
    return getattr(_local, "call", None)


@contextmanager
def call_until(deadline: float, watchdog: Watchdog = WATCHDOG) -> Iterator[Call]:
    """Run the request made inside as one `Call` that ends at `deadline` (monotonic)."""
    call = Call(deadline)
    _local.call = call
    watchdog.watch(call)
    try:
        yield call
    finally:
        with call.lock:
            call.finished = True
        _local.call = None


class _Watched:
    """Connection methods that tell the thread's `Call` which connection it uses and when the
    request starts being written; a body goes out in pieces, none after the deadline."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        call = current()
        if call is not None:
            call.sock = self.sock

    def send(self, data: Any) -> None:
        call = current()
        if call is None:
            super().send(data)  # type: ignore[misc]
            return
        if self.sock is None:
            self.connect()  # what http.client's send would do (auto_open)
        call.sock = self.sock  # a kept-alive connection's socket, or the one just made
        view = memoryview(data) if isinstance(data, bytes | bytearray) else None
        pieces = (
            [data] if view is None else [view[i : i + PIECE] for i in range(0, len(view), PIECE)]
        )
        for piece in pieces:
            if call.expired or time.monotonic() >= call.deadline:
                raise TimeoutError("the request's deadline passed while it was being sent")
            call.sent = True
            super().send(piece)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    """An HTTP connection its `Call` can abort."""


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    """An HTTPS connection its `Call` can abort."""


__all__ = [
    "WATCHDOG",
    "Call",
    "Watchdog",
    "WatchedHTTPConnection",
    "WatchedHTTPSConnection",
    "call_until",
    "current",
]
