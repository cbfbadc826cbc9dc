"""How many replicas must have a write before we act on it: `WAIT`, after the write, on its
connection, in the same round trip.

Redis replicates asynchronously: a write it acknowledged is lost with the master if no replica
received it before a failover. `Durability.run` executes a pipeline (non-transactional: `WAIT`
cannot block inside MULTI) and appends `WAIT numreplicas timeout`, whose answer is how many
replicas acknowledged *every* write the master executed before it, on any connection:
replication is one ordered stream.

On Redis 7.2 or later with the append-only file on, `WAITAOF` is used instead (behind a version
check: the embedded Redis is 6.2): with no replica wanted it waits for the master's own fsync
(`WAITAOF 1 0`), which closes a single machine's `appendfsync everysec` window too; with
replicas, for theirs. Tests on fakeredis (which knows no WAIT) replace `acknowledged`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import redis

WAITAOF_SINCE = (7, 2)


@dataclass(frozen=True)
class Acks:
    """The replies of a pipeline's commands, and how many copies acknowledged them."""

    replies: list[Any]
    acked: int
    wanted: int

    @property
    def enough(self) -> bool:
        """True when as many copies as wanted acknowledged the writes."""
        return self.acked >= self.wanted


class Durability:
    """`replicas` copies wanted within `wait_ms`; `paused` is set while the last wait fell
    short in this process (so the first success after it clears the fleet's note)."""

    def __init__(self, replicas: int = 0, wait_ms: int = 1000) -> None:
        self.replicas = replicas
        self.wait_ms = wait_ms
        self.paused = False
        self._waitaof: bool | None = None  # None: not asked yet (the server may change)
        self._lock = threading.Lock()

    def needed(self, client: Any) -> bool:
        """Whether writes wait for copies at all (replicas wanted, or WAITAOF on one Redis)."""
        return self.replicas > 0 or self.uses_waitaof(client)

    def run(self, pipe: Any) -> Acks:
        """Execute `pipe` (non-transactional, on one connection) with the wait appended."""
        if not self.needed(pipe):
            return Acks(list(pipe.execute()), 0, 0)
        wanted = self.replicas or 1  # with no replica: the master's own fsync (WAITAOF)
        *replies, acked = self.acknowledged(pipe)
        return Acks(replies, acked, wanted)

    def acknowledged(self, pipe: Any) -> list[Any]:
        """The replies, the last one the number of copies that acknowledged them (0 when the
        server refused the wait: a master of another version after a failover)."""
        waitaof = self.uses_waitaof(pipe)
        if waitaof:
            pipe.execute_command(
                "WAITAOF", 1 if self.replicas == 0 else 0, self.replicas, self.wait_ms
            )
        else:
            pipe.execute_command("WAIT", self.replicas, self.wait_ms)
        *replies, last = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        if isinstance(last, Exception):
            self.forget_server()
            return [*replies, 0]
        if waitaof:
            local, remote = last
            return [*replies, int(local) if self.replicas == 0 else int(remote)]
        return [*replies, int(last)]

    def uses_waitaof(self, client: Any) -> bool:
        """Whether the server of `client` (or pipeline) has `WAITAOF` (7.2+) and its
        append-only file on; asked once (again after `forget_server`)."""
        with self._lock:
            if self._waitaof is None:
                try:
                    info = redis.Redis(connection_pool=client.connection_pool).info()
                except redis.ResponseError:  # no INFO (a stand-in server): no WAITAOF either
                    info = {}
                except redis.RedisError:
                    return False  # unknown for now: ask again next time
                self._waitaof = waitaof_works(info)
            return self._waitaof

    def forget_server(self) -> None:
        """The master changed (a failover, a restart): ask its version again."""
        with self._lock:
            self._waitaof = None


def waitaof_works(info: dict[str, Any]) -> bool:
    """From `INFO`: a Redis of version 7.2 or later, with its append-only file on."""
    try:
        version = tuple(int(x) for x in str(info.get("redis_version", "0")).split(".")[:2])
    except ValueError:
        return False
    return version >= WAITAOF_SINCE and str(info.get("aof_enabled", "0")) == "1"


__all__ = ["Acks", "Durability", "waitaof_works"]
