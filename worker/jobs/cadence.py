"""When to fetch a job next: rarely early, promptly near its expected end, always within bounds.

The expected duration comes from what this account's jobs of the same mode actually took (an
exponential moving average kept in Redis), else from TTAPI's typical duration for the mode scaled
by `MJ_TIME_SCALE`. Once TTAPI reports `progress`, the rate between two fetches predicts the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker.keys import KEYS, Keys

# TTAPI's typical durations in seconds (fast ≲ 90 s, turbo ≲ 60 s, relax ≲ 10 min).
TYPICAL_S = {"fast": 60.0, "turbo": 40.0, "relax": 300.0}
# Follow-up kinds are quicker than a full grid (an upsample is about half an imagine).
KIND_FACTOR = {"action": 0.6, "seed": 0.3, "describe": 0.3}
EMA_WEIGHT = 0.3


@dataclass(frozen=True)
class PollBounds:
    """`MJ_POLL_MIN_S`..`MJ_POLL_MAX_S`: the shortest and longest gap between two fetches."""

    min_s: float
    max_s: float

    def clamp(self, gap: float) -> float:
        """The gap forced into the bounds."""
        return max(self.min_s, min(self.max_s, gap))


def next_gap(
    bounds: PollBounds,
    *,
    elapsed: float,
    expected: float,
    progress: int = 0,
    last_progress: int = 0,
    since_last_progress: float = 0.0,
    errors: int = 0,
) -> float:
    """Seconds until the next fetch of a job that is `elapsed` seconds old and not finished.

    `errors` consecutive failed fetches (429/5xx/timeouts) back off exponentially instead.
    """
    if errors > 0:
        return bounds.clamp(bounds.min_s * (2 ** min(errors, 12)))
    if 0 < progress < 100:
        if 0 < last_progress < progress and since_last_progress > 0:
            rate = (progress - last_progress) / since_last_progress
        else:
            rate = progress / max(elapsed, 1e-6)
        remaining = (100 - progress) / rate
    else:
        remaining = expected - elapsed
    if remaining <= 0:
        # Later than expected: look again soon, but less often the longer it overruns.
        overdue = -remaining
        return bounds.clamp(bounds.min_s + 0.25 * overdue)
    # Aim at the predicted end; never sleep past it by more than the granularity of `max_s`.
    return bounds.clamp(remaining)


class Durations:
    """Learned job durations per account, mode and kind, shared by every worker via Redis.

    Each process keeps what it read for `CACHE_S`: every poll asks, and an average that moves
    by a few percent per finished job need not cost a Redis read per fetch.
    """

    CACHE_S = 5.0

    def __init__(
        self,
        client: redis.Redis,
        *,
        time_scale: float = 1.0,
        keys: Keys = KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = client
        self.time_scale = time_scale
        self._key = keys.learned
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, float | None]] = {}

    def _read(self, label: str, fld: str) -> float | None:
        """The stored average (None: nothing learned yet), from this process's cache if fresh."""
        now = self._clock()
        hit = self._seen.get((label, fld))
        if hit is not None and now - hit[0] < self.CACHE_S:
            return hit[1]
        raw = self.redis.hget(self._key(label), fld)
        value = float(raw) if raw else None
        self._seen[(label, fld)] = (now, value)
        return value

    @staticmethod
    def _field(mode: str, kind: str) -> str:
        return f"{kind}:{mode}"

    def expected(self, label: str, mode: str, kind: str) -> float:
        """The expected duration in seconds: learned if any job finished, else typical × scale."""
        learned = self._read(label, self._field(mode, kind))
        if learned:
            return learned
        base = TYPICAL_S.get(mode, TYPICAL_S["fast"]) * KIND_FACTOR.get(kind, 1.0)
        return base * self.time_scale

    def learn(
        self, label: str, mode: str, kind: str, took_s: float, client: redis.Redis | None = None
    ) -> None:
        """Fold one finished job's duration into the moving average (written through `client`,
        e.g. a pipeline the caller sends, else at once)."""
        if took_s <= 0:
            return
        fld = self._field(mode, kind)
        old = self._read(label, fld)
        new = took_s if not old else (1 - EMA_WEIGHT) * old + EMA_WEIGHT * took_s
        (client or self.redis).hset(self._key(label), fld, f"{new:.4f}")
        self._seen[(label, fld)] = (self._clock(), new)
