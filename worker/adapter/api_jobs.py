"""The HTTP API's way into Celery: publish a job as the canvas `pipeline()` builds, with task
ids chosen in advance, and read many steps' visible states at once.

`worker.api` stays Celery-free: `mjw web` hands it a `CeleryJobs` built on the app. A job's
steps get their ids before anything is sent (the first is the job's own id), so publishing the
same job again (a retried request, a process that died between publishing and answering) sends
the same tasks, which their job records ignore.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.backends.base import BaseKeyValueStoreBackend

from worker.adapter.pipelines import build_chain


@dataclass(frozen=True)
class StepState:
    """A task's state in the result backend: PENDING, WAITING, SUBMITTED, SUCCESS, FAILURE,
    REVOKED; `info` for the custom states, `result` on SUCCESS, `error` on FAILURE."""

    state: str
    info: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None


PENDING = StepState("PENDING")


class CeleryJobs:
    """Publishes API jobs and reads their steps' states, through one Celery app."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._accepts: dict[str, set[str]] = {}

    def accepts(self, kind: str) -> set[str]:
        """The keyword arguments the task of `kind` takes (known once its module is loaded)."""
        if kind not in self._accepts:
            task = self.app.tasks.get(f"mj.{kind}")
            run = getattr(task, "run", None)
            self._accepts[kind] = set(inspect.signature(run).parameters) if run else set()
        return self._accepts[kind]

    def publish(
        self, first: str, kwargs: dict[str, Any], then: Sequence[str], ids: Sequence[str]
    ) -> None:
        """Send `mj.<first>(**kwargs)` → each step of `then`, step i with task id `ids[i]`."""
        sig = build_chain(self.app, first, kwargs, then)
        steps = list(getattr(sig, "tasks", None) or [sig])
        if len(steps) != len(ids):
            raise ValueError(f"{len(steps)} steps but {len(ids)} ids")
        for step, task_id in zip(steps, ids, strict=True):
            step.set(task_id=task_id)
        sig.apply_async()

    def states(self, ids: Sequence[str]) -> list[StepState]:
        """Every step's state, in order, in one round trip to the result backend."""
        backend = self.app.backend
        if not ids:
            return []
        if not isinstance(backend, BaseKeyValueStoreBackend):
            return [_state(backend.get_task_meta(i)) for i in ids]
        raws = backend.mget([backend.get_key_for_task(i) for i in ids])
        return [PENDING if raw is None else _state(backend.decode_result(raw)) for raw in raws]

    def revoke(self, ids: Sequence[str]) -> None:
        """Tell the workers online to drop these tasks' messages (the records decide the rest)."""
        if ids:
            self.app.control.revoke(list(ids))


def _state(meta: dict[str, Any]) -> StepState:
    state = str(meta.get("status") or "PENDING")
    value = meta.get("result")
    if state == "FAILURE":
        return StepState(state, error=_error_text(value))
    if state == "SUCCESS":
        return StepState(state, result=value)
    return StepState(state, info=value if isinstance(value, dict) else None)


def _error_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, dict):
        return f"{value.get('exc_type') or 'Error'}: {value.get('exc_message') or ''}".strip()
    return str(value or "failed")


__all__ = ["PENDING", "CeleryJobs", "StepState"]
