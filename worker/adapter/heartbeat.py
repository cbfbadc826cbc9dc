"""Which workers are online, and which queues each consumes: a cheap heartbeat in Redis.

Every worker node writes `hostname → {"at", "since", "queues", "stale_after", "pid", "labels"}`
into the `keys.workers` hash every `interval_s(settings)` seconds, from a consumer bootstep on the
worker's own timer (the event loop's timer in the prefork main process: no thread is started,
so nothing thread-related crosses a fork). Times are Redis's (`TIME` inside the script), so
hosts with skewed clocks agree. A graceful stop removes the node's field; a killed node's
heartbeat goes stale after `stale_after` seconds, which readers honour per entry. `labels` are
the accounts the node is configured with: a key is taken for removed only once no live worker
serves it (`worker.capacity.serving`), not while an older or newer node of a rollout still does.

The interval is a quarter of `MJ_PUMP_INTERVAL_S` (0.1–5 s) and a heartbeat counts for six
intervals: a killed worker shows as gone within 1.5 pump intervals.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import redis
from celery import bootsteps
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.redis_url import RedisTarget
from config.settings import Settings
from worker import policy
from worker.connect import redis_for
from worker.keys import Keys
from worker.lua import script

log = logging.getLogger(__name__)
BEATS_FRESH = 6  # a heartbeat counts this many intervals
PRUNE_EVERY = 50  # beats between two sweeps of long-gone entries
GONE_S = 86400.0  # an entry older than this is removed by the next sweep

# KEYS: workers hash. ARGV: hostname, queues (JSON list), since ('' = now), pid, stale_after,
# prune ('1' to drop entries older than GONE_S), GONE_S, labels (JSON list). Returns `since`.
_BEAT = script("adapter/heartbeat/beat.lua")


def interval_s(settings: Settings) -> float:
    """Seconds between two heartbeats of one worker."""
    every = settings.mj_pump_interval_s / policy.HEARTBEATS_PER_PUMP
    return min(policy.HEARTBEAT_MAX_S, max(policy.HEARTBEAT_MIN_S, every))


class HeartbeatWriter:
    """Writes one worker's heartbeat; `beat()` never raises (a missed beat is only late)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        hostname: str,
        queues: Callable[[], list[str]],
        interval: float,
        labels: list[str] | None = None,
    ) -> None:
        self.client, self.keys, self.hostname = client, keys, hostname
        self.queues, self.interval = queues, interval
        self.labels = json.dumps(sorted(labels or []))
        self.since = ""
        self.beats = 0
        self._script = client.register_script(_BEAT)

    def beat(self) -> None:
        """Write the heartbeat now (and, every PRUNE_EVERY beats, drop long-gone entries)."""
        prune = "1" if self.beats % PRUNE_EVERY == 0 else "0"
        self.beats += 1
        stale = f"{self.interval * BEATS_FRESH:.3f}"
        queues = json.dumps(sorted(self.queues()))
        args: list[str | float] = [self.hostname, queues, self.since, os.getpid(), stale, prune]
        try:
            since = self._script(keys=[self.keys.workers], args=[*args, GONE_S, self.labels])
            self.since = since.decode() if isinstance(since, bytes) else str(since)
        except (redis.RedisError, OSError) as exc:
            log.debug("heartbeat of %s not written: %s", self.hostname, type(exc).__name__)

    def leave(self) -> None:
        """Remove this worker's heartbeat (a graceful stop: readers see it gone at once)."""
        try:
            self.client.hdel(self.keys.workers, self.hostname)
        except (redis.RedisError, OSError) as exc:
            log.debug("heartbeat of %s not removed: %s", self.hostname, type(exc).__name__)


def fast_client(target: RedisTarget | str, timeout_s: float) -> redis.Redis:
    """A client that never holds the worker's event loop for long: no retries."""
    return redis_for(
        target,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def consumed_queues(consumer: Any) -> list[str]:
    """The queues a worker's consumer takes messages from right now (`-Q`, add_consumer)."""
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is not None:
        return [q.name for q in task_consumer.queues]
    return list(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)


class Heartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: a heartbeat on the worker's timer while the consumer runs."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.writer: HeartbeatWriter | None = None
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        """Beat once at once, then every interval on the consumer's timer."""
        settings: Settings = parent.app.mj_settings
        every = interval_s(settings)
        if self.writer is None:
            client = fast_client(settings.redis_target(), min(1.0, settings.mj_health_timeout_s))
            self.writer = HeartbeatWriter(
                client,
                Keys(settings.mj_key_prefix),
                parent.hostname,
                lambda: consumed_queues(parent),
                every,
                [account.label for account in settings.accounts()],
            )
        self.writer.beat()
        self.tref = parent.timer.call_repeatedly(every, self.writer.beat)

    def stop(self, parent: Any) -> None:
        """Stop beating and remove the heartbeat."""
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        if self.writer is not None:
            self.writer.leave()

    def shutdown(self, parent: Any) -> None:
        """Same as stop (a worker shutting down)."""
        self.stop(parent)


__all__ = ["Heartbeat", "HeartbeatWriter", "consumed_queues", "interval_s"]
