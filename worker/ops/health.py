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

from worker.connect import same_server


def probe_client(client: redis.Redis, timeout_s: float, connections: int = 4) -> redis.Redis:
    """A client for the server `client` talks to (under sentinel://, whichever is the master),
    giving up after `timeout_s`, never retrying."""
    return same_server(
        client,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        max_connections=connections,
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
