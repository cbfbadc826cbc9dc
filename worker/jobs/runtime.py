"""Everything a job step needs, built once per process at the edge and passed down.

`Runtime` bundles the settings, the Redis client, the guard, the record store and the account
pool. Nothing in it calls up: a step returns what it wants done as effects
(`worker.jobs.effects`), and the engine or the Celery adapter carries them out. Tests build one
on fakeredis; the Celery app and the engine each build one per process.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import Redis
from redis import exceptions as redis_errors
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.redis_url import RedisTarget
from config.settings import Settings
from worker import policy
from worker.capacity.accounts import AccountPool
from worker.capacity.guard import SlotGuard
from worker.capacity.holdings import Holdings
from worker.capacity.tenants import TenantBook
from worker.clock import RedisClock
from worker.connect import redis_for
from worker.jobs.records import RecordStore
from worker.jobs.replicas import Durability
from worker.jobs.timing import Durations, Timing
from worker.keys import Keys
from worker.ttapi.client import TTAPIClient


def redis_client(
    source: Settings | RedisTarget | str, *, blocks_s: float = 0.0, retries: int | None = None
) -> Redis:
    """A Redis client for job steps: str replies, and calls that ride out a Redis restart or a
    failover (under `sentinel://`, each new connection goes to the master the sentinels name).

    redis-py retries a call on connection errors and while Redis replays its append-only file
    (`BusyLoadingError`), backing off up to 1 s, for about `REDIS_OUTAGE_S` in all: a step in
    flight during a restart then finishes instead of failing its job. A reply that does not
    come within `REDIS_SOCKET_TIMEOUT_S` (plus `blocks_s`, the longest a command of ours may
    block: the submits' `WAIT`) counts as a broken connection: a half-open one to a master
    that vanished never holds a step for minutes. From `Settings`, `blocks_s` is the WAIT's.
    `retries` makes the ride-out shorter (the HTTP API's `API_REDIS_RETRIES`: a caller is
    answered 503 sooner).
    """
    if isinstance(source, Settings):
        blocks_s = max(blocks_s, wait_ms(source) / 1000 if source.redis_min_replicas() else 0.0)
        source = source.redis_target()
    backoff = ExponentialBackoff(cap=policy.REDIS_RETRY_CAP_S, base=policy.REDIS_RETRY_BASE_S)
    tries = int(policy.REDIS_OUTAGE_S) if retries is None else retries
    retry = Retry(backoff, retries=tries)
    return redis_for(
        source,
        decode_responses=True,
        retry=retry,
        retry_on_error=[
            redis_errors.BusyLoadingError,
            redis_errors.ConnectionError,
            redis_errors.TimeoutError,
        ],
        socket_timeout=policy.REDIS_SOCKET_TIMEOUT_S + blocks_s,
        socket_connect_timeout=policy.REDIS_CONNECT_TIMEOUT_S,
        socket_keepalive=True,
    )


def wait_ms(settings: Settings) -> int:
    """How long a submit waits for its replicas (`MJ_REDIS_WAIT_MS`, else `REDIS_WAIT_MS`)."""
    return settings.mj_redis_wait_ms or policy.REDIS_WAIT_MS


@dataclass(frozen=True)
class Runtime:
    """The per-process bundle of collaborators every job step receives: built once at the edge,
    never changed (its parts keep their own state: Redis, the leases held, the replicas)."""

    settings: Settings
    redis: Redis
    timing: Timing
    records: RecordStore
    guard: SlotGuard
    pool: AccountPool
    durations: Durations
    clock: Callable[[], float] = field(default=time.time)  # Redis's time in production
    keys: Keys = field(default_factory=Keys)
    # The accounts this process's engine holds by lease (a submit checks it just before its
    # POST: a node that stalled past its lease must not send what it prepared); a process
    # that runs no engine checks nothing.
    holdings: Holdings = field(default_factory=Holdings.unchecked)
    # How many replicas must acknowledge a submit's intent before its POST (`jobs.durable`).
    durability: Durability = field(default_factory=Durability)

    @classmethod
    def build(
        cls,
        settings: Settings,
        redis_client: Redis,
        *,
        holdings: Holdings | None = None,
    ) -> Runtime:
        """Wire everything from settings; `redis_client` must decode responses to str;
        `holdings`, the engine's account leases (an engine's process only)."""
        timing = Timing.from_settings(settings)
        keys = Keys(settings.mj_key_prefix)
        guard = SlotGuard(
            redis_client,
            default_cap=settings.ttapi_max_in_progress,
            lease_s=timing.lease_s,
            keys=keys,
            book=TenantBook.register(redis_client, keys, settings.mj_tenants),
        )

        # The pool builds an account's client when first asked: TTAPI's own class, its
        # settings bound here (no function of this layer is called from below).
        make_client = functools.partial(
            TTAPIClient,
            base_url=settings.ttapi_base_url,
            connect_timeout=settings.mj_http_connect_timeout_s,
            read_timeout=settings.mj_http_read_timeout_s,
        )
        pool = AccountPool(
            settings.accounts(),
            make_client,
            guard,
            redis_client,
            keys=keys,
            video_cap=settings.mj_video_cap,
        )
        clock = RedisClock(redis_client)
        pool.register(clock())
        if settings.mj_video_cap is not None:  # the video lanes' own cap (worker.capacity.lanes)
            for lane in pool.guard_labels[len(pool.labels) :]:
                guard.set_cap(lane, settings.mj_video_cap)
        return cls(
            settings=settings,
            redis=redis_client,
            timing=timing,
            records=RecordStore(
                redis_client, ttl_s=settings.mj_record_ttl_s, clock=clock, keys=keys
            ),
            guard=guard,
            pool=pool,
            durations=Durations(redis_client, time_scale=settings.mj_time_scale, keys=keys),
            clock=clock,
            keys=keys,
            durability=Durability(settings.redis_min_replicas(), wait_ms(settings)),
            holdings=holdings or Holdings.unchecked(),
        )
