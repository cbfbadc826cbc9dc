"""`REDIS_URL`, parsed once, in the form each of its consumers wants.

A plain URL (`redis://`, `rediss://`, `unix://`) goes to every consumer as it is. A Sentinel
URL names the sentinels, one `sentinel://host:port` chunk each, joined by `;`:
`sentinel://:password@h1:26379;sentinel://h2:26379;sentinel://h3:26379/3`. The master's name
is `MJ_REDIS_SENTINEL_MASTER`; the sentinels' own password, if they have one,
`MJ_REDIS_SENTINEL_PASSWORD` (the Redis password stays in the URL).

The consumers read such a URL differently, and silently wrong:
- kombu (the broker) and Celery's `SentinelBackend` take the db and the password from the
  *first* chunk only: a `/3` written on the last chunk, as above, would mean db 0 to both;
- both need `master_name` and `sentinel_kwargs` in their transport options, or they fail
  (no master name) or talk to password-protected sentinels without the password;
- redis-py has no URL form for Sentinel at all (`Sentinel(...).master_for(...)`).

So the db, user and password may be written on any chunk (once, or the same on each) and
`RedisTarget.celery_url()` writes them on every chunk. TLS to the sentinels or to the master
found through them is not supported: a `sentinels://` chunk or a query string is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

PLAIN_SCHEMES = ("redis://", "rediss://", "unix://")
SENTINEL_SCHEME = "sentinel://"
SENTINEL_PORT = 26379
DEFAULT_MASTER = "mymaster"


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is: a plain URL, or sentinels that name the current master."""

    url: str = field(repr=False)  # as configured: it may hold a password (see `masked`)
    sentinels: tuple[tuple[str, int], ...] = ()  # empty for a plain URL
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    master: str = DEFAULT_MASTER
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def is_sentinel(self) -> bool:
        """True when the master is found through sentinels."""
        return bool(self.sentinels)

    def celery_url(self) -> str:
        """The URL for kombu and Celery: a plain URL unchanged; for Sentinel, every chunk
        with the user, password and db (both read them from the first chunk only)."""
        if not self.is_sentinel:
            return self.url
        auth = ""
        if self.username or self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        parts = [f"{_host(host)}:{port}/{self.db}" for host, port in self.sentinels]
        return ";".join(f"{SENTINEL_SCHEME}{auth}{part}" for part in parts)

    def sentinel_kwargs(self, timeout_s: float) -> dict[str, Any]:
        """Connection options for the sentinels themselves: short timeouts, their password."""
        kwargs: dict[str, Any] = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    def transport_options(self, timeout_s: float) -> dict[str, Any]:
        """What kombu's and Celery's Sentinel transports need besides the URL ({} otherwise)."""
        if not self.is_sentinel:
            return {}
        return {"master_name": self.master, "sentinel_kwargs": self.sentinel_kwargs(timeout_s)}

    @property
    def masked(self) -> str:
        """The URL with its passwords replaced by `***` (for messages)."""
        return ";".join(_mask(chunk) for chunk in self.url.split(";"))


def parse_redis_url(
    url: str, *, master: str = DEFAULT_MASTER, sentinel_password: str | None = None
) -> RedisTarget:
    """Parse `REDIS_URL`; ValueError with a one-line reason when it cannot be used."""
    value = url.strip()
    if value.startswith(PLAIN_SCHEMES):
        return RedisTarget(value)
    if not value.startswith(SENTINEL_SCHEME):
        if value.startswith("sentinels://"):
            raise ValueError(_NO_TLS)
        raise ValueError("must be a redis://, rediss://, unix:// or sentinel:// URL")
    if not master:
        raise ValueError("a sentinel:// URL needs MJ_REDIS_SENTINEL_MASTER (the master's name)")
    sentinels: list[tuple[str, int]] = []
    dbs, users, passwords = set(), set(), set()
    for chunk in (c.strip() for c in value.split(";")):
        if not chunk:
            continue
        if not chunk.startswith(SENTINEL_SCHEME):
            raise ValueError(
                _NO_TLS
                if chunk.startswith(("sentinels://", "rediss://"))
                else "every ;-separated part must be a sentinel://host:port"
            )
        parts = urlsplit(chunk)
        if parts.query or parts.fragment:
            raise ValueError(f"a sentinel:// URL takes no query or fragment; {_NO_TLS_SHORT}")
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError:
            raise ValueError("a sentinel's port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("every sentinel://host:port needs a host")
        sentinels.append((parts.hostname, port))
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ValueError(f"the db after the last sentinel must be a number (got {path!r})")
            dbs.add(int(path))
        if parts.username:
            users.add(unquote(parts.username))
        if parts.password is not None:
            passwords.add(unquote(parts.password))
    if not sentinels:
        raise ValueError("a sentinel:// URL needs at least one sentinel://host:port")
    for name, seen in (("db", dbs), ("user", users), ("password", passwords)):
        if len(seen) > 1:
            raise ValueError(f"the sentinel parts name different {name}s: write it once")
    return RedisTarget(
        value,
        tuple(sentinels),
        db=next(iter(dbs), 0),
        username=next(iter(users), None),
        password=next(iter(passwords), None),
        master=master,
        sentinel_password=sentinel_password or None,
    )


_NO_TLS_SHORT = "TLS to sentinels is not supported"
_NO_TLS = (
    "TLS to sentinels (sentinels://, rediss:// parts) is not supported: use sentinel:// on a "
    "private network, or a rediss:// URL to a managed Redis that fails over behind one address"
)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _mask(chunk: str) -> str:
    scheme, sep, rest = chunk.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return chunk
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


__all__ = ["DEFAULT_MASTER", "RedisTarget", "parse_redis_url"]
