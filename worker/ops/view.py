"""What the operations side reads Redis through: a client that gives up fast, and the names.

The job steps' client retries a dead Redis for about 20 s (right for a step that must finish);
an operator's page, a scrape or `mjw status` must answer within `MJ_HEALTH_TIMEOUT_S` instead,
so `OpsView` carries its own client with short socket timeouts and no retries, a read-only
guard on it, and the accounts: those configured here plus every label a process registered
(`keys.labels`), so a process without TTAPI keys still sees the fleet's accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from config.settings import Settings
from worker.capacity.guard import SlotGuard
from worker.connect import redis_for
from worker.keys import Keys
from worker.ops.health import probe_client
from worker.text import text


@dataclass
class OpsView:
    """Settings, a fail-fast Redis client, a guard on it, and the configured labels."""

    settings: Settings
    redis: Redis
    keys: Keys
    guard: SlotGuard
    configured: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, settings: Settings, client: Redis) -> OpsView:
        """A view on the server `client` talks to, with its own fail-fast connections."""
        fast = probe_client(client, settings.mj_health_timeout_s, connections=16)
        keys = Keys(settings.mj_key_prefix)
        guard = SlotGuard(fast, default_cap=settings.ttapi_max_in_progress, keys=keys)
        labels = [account.label for account in settings.accounts()]
        return cls(settings, fast, keys, guard, labels)

    @classmethod
    def from_url(cls, settings: Settings) -> OpsView:
        """A view on `REDIS_URL` (str replies), for processes that have no client yet."""
        timeout = settings.mj_health_timeout_s
        client = redis_for(settings.redis_target(), decode_responses=True, socket_timeout=timeout)
        return cls.on(settings, client)

    def labels(self) -> list[str]:
        """Configured labels first, then every other label a process registered, sorted."""
        known = sorted(text(k) for k in self.redis.hkeys(self.keys.labels))
        return [*self.configured, *(k for k in known if k not in self.configured)]

    def now(self) -> float:
        """Redis's clock (every host compares times written with it)."""
        seconds, micros = self.redis.time()
        return int(seconds) + int(micros) / 1e6

    @property
    def queues(self) -> list[str]:
        """The queues mj-worker sends to: Celery's default and the control queue."""
        return ["celery", self.settings.mj_control_queue]


__all__ = ["OpsView"]
