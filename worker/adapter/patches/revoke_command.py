"""Act on `AsyncResult.revoke()` when the worker receives it, not when a message is dropped.

Celery applies a revoke by dropping the task's next message. A parked job that is handed a
slot is submitted by the process that freed the slot, with no message of its own, so the
revoke must be seen where it arrives: the `revoke` remote-control command, in every worker's
main process. No signal exists for it, hence this wrapper of the registered command.

`apply(hook)` wraps it in a worker (its `worker_init`). On a Celery other than 5.7 it applies
anyway, with a WARNING: it only calls the registered command with the arguments it was given,
then the hook, and without it a parked job that is revoked would still be submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import celery

from worker.adapter.patches.versions import checked

_PATCHED = "_mj_revoke_hook"
WRITTEN_FOR = ("5.7.*",)


def apply(hook: Callable[[list[str]], None]) -> None:
    """Call `hook(task_ids)` after Celery's own `revoke` control command; idempotent."""
    checked("revoke_command", "celery", celery.__version__, WRITTEN_FOR, refuse=False)
    from celery.utils.functional import maybe_list
    from celery.worker.control import Panel

    original = Panel.data["revoke"]
    if getattr(original, _PATCHED, False):
        return

    def revoke(
        state: Any, task_id: Any, terminate: bool = False, signal: Any = None, **kw: Any
    ) -> Any:
        reply = original(state, task_id, terminate=terminate, signal=signal, **kw)
        hook([str(t) for t in maybe_list(task_id) or []])
        return reply

    setattr(revoke, _PATCHED, True)
    revoke.__doc__ = original.__doc__
    Panel.data["revoke"] = revoke


__all__ = ["apply"]
