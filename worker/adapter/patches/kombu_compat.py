"""A workaround that keeps workers alive through a Redis restart (kombu 5.7 + Celery 5.7).

On a lost connection Celery 5.7 calls `connection.collect()` and then `connection.close()`
(celery/celery#10242, https://github.com/celery/celery/pull/10242). kombu's Redis
`Channel.close` first reads the pending BRPOP reply and catches only `Empty`
(celery/kombu#1733, https://github.com/celery/kombu/pull/1733); with Redis gone that read
raises, the close stops half-way, and the second close rebuilds a pool on a detached transport:
`AttributeError: 'NoneType' object has no attribute 'hostname'` in `_connparams`, which the
worker treats as unrecoverable and exits. It happens whenever the worker holds unacked
messages, which with late acks and countdown polls is always. kombu is pinned in
pyproject.toml; drop this module once kombu's `Channel.close` tolerates connection errors there.

`apply()` refuses any kombu but 5.7.0, with a WARNING: the patch calls the channel's private
`_brpop_read` and `_in_poll`, which another kombu may have renamed (a close that raises is worse
than the bug), or may no longer need.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

import kombu

from worker.adapter.patches.versions import checked

_PATCHED = "_mj_close_tolerates_dead_brpop"
WRITTEN_FOR = ("5.7.0",)
RESTORE_WAIT_S = 15.0  # a restarting Redis is usually back within a second or two


def apply() -> bool:
    """Make kombu's Redis channel close cleanly on a dead socket (and a failed restore wait for
    Redis), if kombu is the version this was written for; idempotent. True if applied."""
    if not checked("kombu_compat", "kombu", kombu.__version__, WRITTEN_FOR, refuse=True):
        return False
    _patch()
    return True


def _patch() -> None:
    from kombu.transport import redis as kombu_redis

    channel_cls: Any = kombu_redis.Channel
    if getattr(channel_cls.close, _PATCHED, False):
        return
    original_close = channel_cls.close

    def close(self: Any) -> None:
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                pass  # `_brpop_read` reset `_in_poll`: finish closing as kombu would
        original_close(self)

    setattr(close, _PATCHED, True)
    channel_cls.close = close

    # A restore that fails leaves the messages in kombu's `unacked` hash until the visibility
    # timeout (an hour): wait briefly for Redis to come back instead.
    qos_cls: Any = kombu_redis.QoS
    original_restore = qos_cls.restore_unacked

    def restore_unacked(self: Any, client: Any = None) -> Any:
        deadline = time.monotonic() + RESTORE_WAIT_S
        while True:
            try:
                return original_restore(self, client)
            except self.channel.connection_errors:  # BusyLoadingError (AOF replay) included
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    qos_cls.restore_unacked = restore_unacked


__all__ = ["WRITTEN_FOR", "apply"]
