"""The HTTP API's way into Celery: publish a job as the canvas `pipeline()` builds, with task
ids chosen in advance, and read many steps' visible states at once.

`worker.api` stays Celery-free: `mjw web` hands it a `CeleryJobs` built on the app. A job's
steps get their ids before anything is sent (the first is the job's own id), so publishing the
same job again (a retried request, a process that died between publishing and answering) sends
the same tasks, which their job records ignore.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.backends.base import BaseKeyValueStoreBackend
from kombu.exceptions import OperationalError
from redis import RedisError

from worker.adapter.pipelines import build_chain
from worker.jobs.effects import CarryOut, Effects
from worker.jobs.states import TaskState
from worker.policy import API_PUBLISH_RETRY


@dataclass(frozen=True)
class StepState:
    """A task's state in the result backend: PENDING, WAITING, SUBMITTED, SUCCESS, FAILURE,
    REVOKED; `info` for the custom states, `result` on SUCCESS, `error` on FAILURE."""

    state: str
    info: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None


PENDING = StepState(TaskState.PENDING)


class BrokerUnavailable(Exception):
    """The broker did not take a message (Redis down longer than the publish's retries)."""


_quiet = threading.local()


def _without_subscription(backend: Any) -> None:
    """Let this thread publish without the result subscription Celery's Redis backend makes.

    Celery SUBSCRIBEs to every task it sends (`on_task_call`), for a caller that will wait on
    its result. The API never waits (it reads states with one MGET), and that subscription's
    connection, while Redis restarts, retries for 20 s and then raises RuntimeError. The
    backend (one per thread, or shared) skips it only while `_quiet.on` is set in the thread
    that publishes, so any other caller in the process keeps Celery's behaviour.
    """
    if "on_task_call" in vars(backend):
        return
    original = backend.on_task_call

    def on_task_call(producer: Any, task_id: str) -> None:
        if not getattr(_quiet, "on", False):
            original(producer, task_id)

    backend.on_task_call = on_task_call


class CeleryJobs:
    """Publishes API jobs and reads their steps' states, through one Celery app; `carry_out`
    (the process's dispatcher's) carries out the effects of the job steps the API takes."""

    def __init__(
        self,
        app: Celery,
        retry_policy: dict[str, Any] | None = None,
        carry_out: CarryOut | None = None,
    ) -> None:
        self.app = app
        self.retry_policy = retry_policy or API_PUBLISH_RETRY
        self.carry_out = carry_out
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
        """Send `mj.<first>(**kwargs)` → each step of `then`, step i with task id `ids[i]`;
        BrokerUnavailable when the broker does not take it within the retry policy (it may
        have, if the connection broke after the broker had it: the same ids are safe again)."""
        sig = build_chain(self.app, first, kwargs, then)
        steps = list(getattr(sig, "tasks", None) or [sig])
        if len(steps) != len(ids):
            raise ValueError(f"{len(steps)} steps but {len(ids)} ids")
        for step, task_id in zip(steps, ids, strict=True):
            step.set(task_id=task_id)
        _without_subscription(self.app.backend)
        _quiet.on = True
        try:
            sig.apply_async(retry=True, retry_policy=self.retry_policy)
        except (OperationalError, RedisError, OSError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            _quiet.on = False

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
            try:
                self.app.control.revoke(list(ids))
            except (OperationalError, RedisError, OSError) as exc:
                raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def carry(self, effects: Effects) -> None:
        """Carry out the effects of a job step the API took (this process's dispatcher)."""
        if effects and self.carry_out is None:
            raise RuntimeError("CeleryJobs built without carry_out cannot carry effects out")
        if self.carry_out is not None:
            self.carry_out(effects)


def _state(meta: dict[str, Any]) -> StepState:
    state = str(meta.get("status") or TaskState.PENDING)
    value = meta.get("result")
    if state == TaskState.FAILURE:
        return StepState(state, error=_error_text(value))
    if state == TaskState.SUCCESS:
        return StepState(state, result=value)
    return StepState(state, info=value if isinstance(value, dict) else None)


def _error_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, dict):
        return f"{value.get('exc_type') or 'Error'}: {value.get('exc_message') or ''}".strip()
    return str(value or "failed")


__all__ = ["PENDING", "BrokerUnavailable", "CeleryJobs", "StepState"]
