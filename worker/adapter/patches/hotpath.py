"""Two trims of what Celery and kombu spend on every message, measured with `make bench`.

A parked job ends its run with `Ignore` several times in its life, and every job step publishes
messages; on the 1,000-job burst these two costs were a fifth of the worker's CPU:

- Celery builds a full `ExceptionInfo` for an `Ignore` (the formatted traceback, a pickleable
  copy of every frame), sends it to the pool's parent and logs it, only to acknowledge the
  message. Here an `Ignore` gets a bare ExceptionInfo and a debug line instead.
- kombu's Redis channel builds a new `redis.Redis` object (not a connection: the pool is
  shared) for every publish, ack and queue-length call. Here each channel keeps one.

Neither changes what Celery stores or acks. `apply()` applies them, once per process, where
they are needed (`worker.adapter.patches`): both in a worker, the channel's client in a process
that only publishes. Each refuses another version than it was written for (Celery 5.7, kombu
5.7.0), with a WARNING: both replace internals that may have changed, and without them
mj-worker only costs more CPU.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Any

import celery
import kombu
from billiard.einfo import ExceptionInfo
from celery.exceptions import Ignore

from worker.adapter.patches.versions import checked

_PATCHED = "_mj_hotpath"
CELERY_WRITTEN_FOR = ("5.7.*",)
KOMBU_WRITTEN_FOR = ("5.7.0",)
log = logging.getLogger("celery.app.trace")


class _LightExceptionInfo(ExceptionInfo):
    """An ExceptionInfo that skips the traceback when the exception is Celery's `Ignore`."""

    def __init__(self, exc_info: Any = None, internal: bool = False) -> None:
        info = exc_info or sys.exc_info()
        if isinstance(info[1], Ignore):
            self.type, self.exception, self.tb = info[0], info[1], None
            self.traceback, self.internal = "", internal
            return
        super().__init__(info, internal)


def _handle_ignore(self: Any, task: Any, req: Any, **_: Any) -> None:
    log.debug("Task %s[%s] parked (Ignore)", task.name, req.id)


def cheap_ignore() -> None:
    """Make Celery's handling of `Ignore` cheap (see the module docstring); idempotent."""
    from celery.app import trace

    if getattr(trace, _PATCHED, False):
        return
    trace.ExceptionInfo = _LightExceptionInfo
    trace.TraceInfo.handle_ignore = _handle_ignore
    setattr(trace, _PATCHED, True)


def reuse_channel_client() -> None:
    """Let each kombu Redis channel keep one client for its short calls; idempotent."""
    from kombu.transport import redis as kombu_redis

    channel_cls: Any = kombu_redis.Channel
    if getattr(channel_cls, _PATCHED, False):
        return

    @contextmanager
    def conn_or_acquire(self: Any, client: Any = None) -> Any:
        if client:
            yield client
            return
        cached = getattr(self, "_mj_client", None)
        # A reconnect replaces the pool: the cached client must follow it.
        if cached is None or cached.connection_pool is not self.pool:
            cached = self._mj_client = self._create_client()
        yield cached

    channel_cls.conn_or_acquire = conn_or_acquire
    setattr(channel_cls, _PATCHED, True)


def apply(*, runs_tasks: bool = True) -> bool:
    """Apply the trims this process needs (`runs_tasks`: a worker, which also handles
    `Ignore`); each only over the version it was written for. True if all were applied."""
    applied = True
    if runs_tasks:
        if checked(
            "hotpath.cheap_ignore", "celery", celery.__version__, CELERY_WRITTEN_FOR, refuse=True
        ):
            cheap_ignore()
        else:
            applied = False
    if checked(
        "hotpath.reuse_channel_client", "kombu", kombu.__version__, KOMBU_WRITTEN_FOR, refuse=True
    ):
        reuse_channel_client()
    else:
        applied = False
    return applied


__all__ = ["apply", "cheap_ignore", "reuse_channel_client"]
