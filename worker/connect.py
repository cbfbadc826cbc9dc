"""redis-py clients for `REDIS_URL`, whatever its form: every client of ours follows the master.

A plain URL gives `Redis.from_url`; a `sentinel://` URL a client whose pool asks the sentinels
where the master is each time it connects (`Sentinel.master_for`): a connection that breaks
(the master died, or was demoted: `READONLY`, or a blocking call `UNBLOCKED`) is made again to
the master the sentinels name then. Each caller passes its own timeouts and retries; a client
without a `socket_timeout` is refused, since a half-open connection to a dead master would
otherwise block its caller for minutes (celery#6348: no failover when the master's host
vanishes without closing its sockets).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

from config.redis_url import RedisTarget, parse_redis_url

SENTINEL_TIMEOUT_S = 1.0  # a sentinel that does not answer within this is skipped for the next


def redis_for(target: RedisTarget | str, **options: Any) -> redis.Redis:
    """A client of the master of `target` (a `RedisTarget`, or a plain URL), with `options`
    (redis-py's: decode_responses, socket_timeout, retry, ...); `socket_timeout` is required."""
    if options.get("socket_timeout") is None:
        raise ValueError("every Redis client of the worker needs a socket_timeout")
    if isinstance(target, str):
        target = parse_redis_url(target)
    if not target.is_sentinel:
        return redis.Redis.from_url(target.url, **options)
    sentinel = Sentinel(
        list(target.sentinels),
        sentinel_kwargs=target.sentinel_kwargs(min(SENTINEL_TIMEOUT_S, options["socket_timeout"])),
    )
    return sentinel.master_for(
        target.master,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )


def same_server(client: redis.Redis, **options: Any) -> redis.Redis:
    """Another client (its own pool) of the server `client` talks to, with `options` in place
    of its connection options (timeouts, retry); a Sentinel client stays one."""
    pool = client.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if not k.startswith(_PER_POOL)}
    kwargs.update(options)
    connections = kwargs.pop("max_connections", None)
    if isinstance(pool, SentinelConnectionPool):
        kwargs.pop("connection_pool", None)  # the old pool's proxy: the new pool makes its own
        new: redis.ConnectionPool = SentinelConnectionPool(
            pool.service_name,
            pool.sentinel_manager,
            connection_class=pool.connection_class,
            max_connections=connections,
            **kwargs,
        )
    else:
        if "path" in kwargs:  # unix sockets connect locally: no connect timeout to set
            kwargs.pop("socket_connect_timeout", None)
        new = redis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=connections, **kwargs
        )
    return redis.Redis(connection_pool=new)


# Per-pool objects of redis-py that must not be shared with a second pool.
_PER_POOL = ("maint_notifications", "orig_")


__all__ = ["redis_for", "same_server"]
