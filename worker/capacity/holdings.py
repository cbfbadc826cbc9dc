"""Which accounts this process's engine holds, as far as it may trust its own leases.

An engine holds an account by a lease in Redis (`worker.engine.ownership`), and trusts it only
for a part of its life (`ENGINE_LEASE_MARGIN`), counted on its own monotonic clock from when it
last renewed it: a node that wakes from a stall knows it lost its accounts before anyone tells
it. The ownership notes each renewal here; a submit asks, as the last thing before its POST,
whether the account is still held (`worker.jobs.submit`). Built once per process with its
Runtime and shared by reference: the state of the leases changes, the Runtime does not. A
process that runs no engine checks nothing (`unchecked`): it never submits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from worker.policy import ENGINE_LEASE_MARGIN


class Holdings:
    """The accounts held by lease, by when each was last renewed (`monotonic` seconds)."""

    def __init__(
        self, lease_s: float | None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.lease_s = lease_s
        self._monotonic = monotonic
        self._renewed: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def unchecked(cls) -> Holdings:
        """For a process that runs no engine: every account counts as held."""
        return cls(None)

    def renewed(self, label: str, at: float) -> None:
        """The lease of `label` was taken or renewed at `at` (started before the round trip)."""
        with self._lock:
            self._renewed[label] = at

    def lost(self, label: str) -> None:
        """The lease of `label` lapsed, or was given back."""
        with self._lock:
            self._renewed.pop(label, None)

    def labels(self) -> list[str]:
        """Every account whose lease was renewed and not lost (held or not by now)."""
        with self._lock:
            return list(self._renewed)

    def holds(self, label: str) -> bool:
        """True while the lease of `label` was renewed within the part of a lease trusted."""
        if self.lease_s is None:
            return True
        with self._lock:
            renewed = self._renewed.get(label)
        return (
            renewed is not None and self._monotonic() - renewed < ENGINE_LEASE_MARGIN * self.lease_s
        )


__all__ = ["Holdings"]
