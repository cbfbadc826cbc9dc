"""Per-account counters of TTAPI refusals (429, 499, ...) in one-minute buckets."""

from __future__ import annotations

import time

from redis import Redis

BUCKET_TTL_S = 3600


def _key(label: str, status: int, minute: int) -> str:
    return f"mj:{{{label}}}:count:{status}:{minute}"


def count(redis: Redis, label: str, status: int, now: float | None = None) -> None:
    """Count one answer with HTTP `status` from `label`'s account."""
    minute = int((now or time.time()) // 60)
    key = _key(label, status, minute)
    pipe = redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, BUCKET_TTL_S)
    pipe.execute()


def recent(redis: Redis, label: str, status: int, minutes: int = 5,
           now: float | None = None) -> int:
    """How many answers with `status` the account gave in the last `minutes` minutes."""
    minute = int((now or time.time()) // 60)
    keys = [_key(label, status, m) for m in range(minute - minutes + 1, minute + 1)]
    return sum(int(v) for v in redis.mget(keys) if v)
