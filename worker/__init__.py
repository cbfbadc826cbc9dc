"""mj-worker: Celery tasks and plain job logic for TTAPI's Midjourney API.

`celery -A worker worker` finds the Celery app as `worker.app` (or `worker.celery`); it is
built on first access (in `worker.adapter.app`) so that importing the client or the simulator
does not build a Celery app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from worker.adapter.app import app

        return app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
