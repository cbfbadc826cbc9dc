"""Counters every worker process adds to in Redis, so `/metrics` sees the sum of all of them.

- TTAPI refusals per account and HTTP status: one-minute buckets (`recent`, for `mjw status`)
  and a total that only ever grows (`totals`, for the `mj_ttapi_responses_total` counter);
- jobs ended, by outcome (`count_outcome`), and how long they took, by mode (`observe_duration`),
  as histogram buckets in one hash.

Nothing here lives in a process's memory: a process that dies loses no count, and any web
process reads the same numbers. Totals never expire; if Redis loses them, Prometheus sees a
counter reset, which it handles.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping

from redis import Redis

from worker.capacity.lanes import base_of
from worker.keys import Keys
from worker.policy import COUNT_TTL_S
from worker.text import text

OUTCOMES = ("success", "failed", "revoked")
DURATION_BUCKETS = (5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0)
"""Upper bounds (seconds) of `mj_job_duration_seconds`: turbo takes seconds, relax minutes."""
_MODE = re.compile(r"[a-z]{1,16}")


def count(redis: Redis, label: str, status: int, now: float | None = None, *, keys: Keys) -> None:
    """Count one answer with HTTP `status` from `label`'s account."""
    label = base_of(label)  # a lane's answers are its account's
    minute = int((now or time.time()) // 60)
    key = keys.count(label, status, minute)
    pipe = redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, COUNT_TTL_S)
    pipe.hincrby(keys.responses(label), str(status), 1)
    pipe.execute()


def recent(
    redis: Redis,
    label: str,
    status: int,
    minutes: int = 5,
    now: float | None = None,
    *,
    keys: Keys,
) -> int:
    """How many answers with `status` the account gave in the last `minutes` minutes."""
    minute = int((now or time.time()) // 60)
    names = [keys.count(label, status, m) for m in range(minute - minutes + 1, minute + 1)]
    return sum(int(v) for v in redis.mget(names) if v)


def totals(redis: Redis, label: str, *, keys: Keys) -> dict[str, int]:
    """Every answer status counted for the account since counting began, with its count."""
    return {text(k): int(v) for k, v in redis.hgetall(keys.responses(label)).items()}


def count_outcome(redis: Redis, outcome: str, *, keys: Keys) -> None:
    """Count one job ended as `outcome`: success, failed or revoked (any case)."""
    name = outcome.lower()
    if name not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    redis.hincrby(keys.outcomes, name, 1)


def count_tenant_outcome(redis: Redis, bucket: str, outcome: str, *, keys: Keys) -> None:
    """Count one job of tenant `bucket` (a name of MJ_TENANTS, or `default` for any other:
    bounded label values) ended as `outcome` (mj_tenant_jobs_total)."""
    name = outcome.lower()
    if name not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    redis.hincrby(keys.tenant_outcomes, f"{bucket}:{name}", 1)


def tenant_outcomes(redis: Redis, *, keys: Keys) -> dict[tuple[str, str], int]:
    """Jobs ended so far, per (tenant bucket, outcome)."""
    out = {}
    for field, n in redis.hgetall(keys.tenant_outcomes).items():
        bucket, _, outcome = text(field).rpartition(":")
        out[(bucket, outcome)] = int(n)
    return out


def outcomes(redis: Redis, *, keys: Keys) -> dict[str, int]:
    """Jobs ended so far, per outcome (every outcome listed, 0 when none)."""
    raw = {text(k): int(v) for k, v in redis.hgetall(keys.outcomes).items()}
    return {name: raw.get(name, 0) for name in OUTCOMES}


def bucket_of(seconds: float) -> str:
    """The histogram field a duration falls in: the smallest bound >= it, else `+Inf`."""
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return f"{bound:g}"
    return "+Inf"


def observe_duration(redis: Redis, mode: str, seconds: float, *, keys: Keys) -> None:
    """Add one job of `mode` (fast, relax, turbo) that took `seconds` to the histogram.

    Two commands: the bucket's count and the running sum (pass a pipeline to send them with
    others in one round trip). Buckets are stored non-cumulative (one field per bound) and
    summed up at scrape time.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    name = mode.lower() if _MODE.fullmatch(mode.lower()) else "other"  # bounded label values
    redis.hincrby(keys.durations, f"{name}:{bucket_of(seconds)}", 1)
    redis.hincrbyfloat(keys.durations, f"{name}:sum", seconds)


def durations(redis: Redis, *, keys: Keys) -> dict[str, tuple[list[tuple[str, int]], float]]:
    """Per mode: cumulative `(le, count)` pairs ending with `+Inf`, and the sum of seconds."""
    raw: Mapping[str, str] = {text(k): text(v) for k, v in redis.hgetall(keys.durations).items()}
    modes = sorted({field.split(":", 1)[0] for field in raw})
    out = {}
    for mode in modes:
        running, pairs = 0, []
        for le in [*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"]:
            running += int(raw.get(f"{mode}:{le}", 0))
            pairs.append((le, running))
        out[mode] = (pairs, float(raw.get(f"{mode}:sum", 0.0)))
    return out
