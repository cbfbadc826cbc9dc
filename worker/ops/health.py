"""`/healthz`: healthy means Redis answers PING within a short timeout.

The probe is its own small client on the same server as the app's, with socket timeouts and
no retries: the app's client may wait long and retry with back-off (right for job steps), but
a health check must answer within the load balancer's or Docker's timeout, whatever Redis does.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Per-pool objects of redis-py that must not be shared with a second pool.
_PER_POOL = ("maint_notifications", "orig_")


def probe_client(client: redis.Redis, timeout_s: float, connections: int = 4) -> redis.Redis:
    """A client for the server `client` talks to, giving up after `timeout_s`, never retrying."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = {
        k: v for k, v in pool.connection_kwargs.items() if not k.startswith(_PER_POOL)
    }
    kwargs.update(
        socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )
    if "path" in kwargs:  # unix sockets connect locally: no connect timeout to set
        kwargs.pop("socket_connect_timeout")
    return redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=connections, **kwargs
        )
    )


def check(probe: redis.Redis) -> tuple[int, dict[str, Any]]:
    """`(200, {"ok": True})` when Redis answers PING, else `(503, {"ok": False, "error": ...})`."""
    try:
        probe.ping()
    except (redis.RedisError, OSError) as exc:
        # The class only: a message may carry the host or a password-bearing URL.
        return 503, {"ok": False, "error": f"redis: {type(exc).__name__}"}
    return 200, {"ok": True}


__all__ = ["check", "probe_client"]
