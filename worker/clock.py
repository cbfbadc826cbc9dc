"""One clock for every host: Redis `TIME`, read through a cached offset.

Record times (sent_at, next_poll_at, woken_at, ...) written by one worker are compared by the
pump on another host, so they must not come from each host's own clock: a worker 90 s off would
make every job look stalled or fresh. `RedisClock` asks Redis for its time once every
`resync_s` seconds and adds the measured offset to the local monotonic time in between, so
reading it costs no Redis command on the hot path. After a failover the engine calls
`resync` (`worker.engine.rederive`): the promoted replica's clock is another machine's.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from worker.policy import REDIS_CLOCK_RESYNC_S


class RedisClock:
    """A callable returning Redis's current time (epoch seconds), resynced every `resync_s`."""

    def __init__(self, redis: Any, *, resync_s: float = REDIS_CLOCK_RESYNC_S) -> None:
        self._redis = redis
        self._resync_s = resync_s
        self._base = 0.0  # Redis time at `_mono`
        self._mono = -1e18  # local monotonic time of the last sync (never: far in the past)
        self._lock = threading.Lock()
        self._stale = False  # set by `resync`: the next reading asks Redis again

    def __call__(self) -> float:
        """Redis's time now; falls back to the last offset (or local time) if Redis is away."""
        mono = time.monotonic()
        if self._stale or mono - self._mono >= self._resync_s:
            self._sync(mono)
        return self._base + (time.monotonic() - self._mono)

    def resync(self) -> None:
        """Ask Redis again at the next reading: the master changed (a failover, a restart) and
        the new one's clock may differ from the old one's."""
        self._stale = True

    def _sync(self, mono: float) -> None:
        with self._lock:
            if not self._stale and mono - self._mono < self._resync_s:
                return
            self._stale = False
            before = time.monotonic()
            try:
                seconds, micros = self._redis.time()
            except Exception:
                if self._mono < -1e17:  # never synced: the local clock is all we have
                    self._base, self._mono = time.time(), before
                return
            after = time.monotonic()
            self._base = int(seconds) + int(micros) / 1e6
            self._mono = (before + after) / 2  # the reply's time is best placed mid-call
