"""The command line's first look at Redis: reachable within seconds, or one clear line.

Celery's own clients retry a dead Redis for about 20 s before they give up with a traceback;
the CLI asks once, with short socket timeouts and no retries, before it sends anything.
URLs are shown with their password masked.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError

from config.redis_url import RedisTarget
from worker.connect import redis_for

CHECK_TIMEOUT_S = 2.0

# Why a connection failed, by the class of the OS error underneath (first match wins).
REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (MasterNotFoundError, "no sentinel named a master (check MJ_REDIS_SENTINEL_MASTER)"),
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "unknown host"),
    (FileNotFoundError, "no such socket file"),
    (PermissionError, "permission denied"),
    (TimeoutError, "no answer in time"),
    (redis.AuthenticationError, "authentication failed (check the password in REDIS_URL)"),
    (redis.TimeoutError, "no answer in time"),
    (OSError, "network error"),
)


class RedisUnreachable(Exception):
    """Redis did not answer a PING; the message names the masked URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach Redis at {mask_url(url)}: {reason}")
        self.url = mask_url(url)
        self.reason = reason


class RedisRefusedLogin(RedisUnreachable):
    """Redis answered but refused our credentials: a configuration error."""


def mask_url(url: str) -> str:
    """`url` with any password (in the user part or a `password=` query) replaced by `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if "password" in query:
            pairs = [(k, "***" if k == "password" else v) for k, v in parse_qsl(query)]
            query = urlencode(pairs, safe="*")
        if (netloc, query) == (parts.netloc, parts.query):
            return url  # nothing secret; urlunsplit would also drop the `//` of unix:///path
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparseable REDIS_URL>"


def reason_for(exc: BaseException) -> str:
    """The short reason of a connection failure, from its class or its causes' classes."""
    seen: BaseException | None = exc
    chain: list[BaseException] = []
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for cls, reason in REASONS:
        for link in chain:
            if isinstance(link, cls):
                return reason
    return "no usable answer"


def check_redis(target: RedisTarget | str, timeout: float = CHECK_TIMEOUT_S) -> None:
    """PING Redis (under sentinel://, the master the sentinels name) once, giving up after
    `timeout` seconds; raise RedisUnreachable."""
    url = target.masked if isinstance(target, RedisTarget) else target
    try:
        client = redis_for(
            target,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise RedisUnreachable(url, str(exc)) from None
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise RedisRefusedLogin(url, reason_for(exc)) from None
    except (redis.RedisError, OSError) as exc:
        raise RedisUnreachable(url, reason_for(exc)) from None
    finally:
        client.close()


def connect() -> Any:
    """The Celery app (the edge where settings and clients are built), with Redis checked."""
    from worker.adapter import patches
    from worker.adapter.app import app

    patches.for_publisher()
    check_redis(app.mj_settings.redis_target())
    return app
