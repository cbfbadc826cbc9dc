"""An ended job reported in the process that saw it end, through Celery's own tracer: its result
stored, its chain, callbacks and chord carried on, exactly as a pool process would on the
report's message, but without that message (its publish, delivery, acknowledgement and
events: about 2 ms of worker CPU and a dozen Redis commands a job).

The task's own body runs (`tasks.jobs`), so the claim that makes a report happen once is the
one every report takes, wherever it runs. The message stays the way back: a report that could
not run here is published as before, and a job whose outcome was not stored stays owed to its
caller (`worker.jobs.delivery`), which the pump re-publishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, states
from celery.app.trace import build_tracer
from celery.utils.functional import maybe_list
from celery.utils.saferepr import saferepr
from celery.utils.serialization import get_pickled_exception

log = logging.getLogger(__name__)

#: (task id, args, kwargs, request) -> Celery's trace result (retval, info, runtime, repr).
Tracer = Callable[[str, Any, Any, dict[str, Any]], Any]


class ReportHere:
    """Runs the reports of ended jobs in this process (a node's engine), for `app` as node
    `hostname`; `send_event(name, **fields)` sends the task's event (Flower's view of it)."""

    def __init__(self, app: Any, hostname: str, send_event: Callable[..., None]) -> None:
        self.app, self.hostname, self.send_event = app, hostname, send_event
        self._tracers: dict[str, Tracer] = {}

    def report(self, job_id: str, sig: dict[str, Any]) -> bool:
        """Run the task of job `job_id` from `sig`, its stored signature, here; False when it
        is no task of this app (the caller publishes it instead)."""
        task = self.app.tasks.get(sig.get("task"))
        if task is None:
            return False
        args, kwargs, request = self.request(task, job_id, sig)
        retval, info, runtime, shown = self._tracer(task)(job_id, args, kwargs, request)
        # The events a worker's main process sends when a pool process returns (Ignore: none).
        # The outcome is stored: an event that cannot go out is only logged.
        try:
            if info is None:
                self.send_event("task-succeeded", uuid=job_id, result=shown, runtime=runtime)
            elif info.state == states.FAILURE:
                self.send_event(
                    "task-failed",
                    uuid=job_id,
                    exception=saferepr(get_pickled_exception(retval.exception)),
                    traceback=retval.traceback,
                )
        except Exception as exc:
            log.warning("job %s: reported, but its task event was not sent (%s)", job_id, exc)
        return True

    def request(
        self, task: Task, job_id: str, sig: dict[str, Any]
    ) -> tuple[Any, Any, dict[str, Any]]:
        """The args, kwargs and request a worker would make of the message `sig` publishes:
        Celery's own message layout (`as_task_v2`), read back as a worker reads it."""
        opts = dict(sig.get("options") or {})
        task_id = str(opts.get("task_id") or job_id)
        stamped = opts.get("stamped_headers") or []
        message = self.app.amqp.as_task_v2(
            task_id,
            task.name,
            list(sig.get("args") or ()),
            dict(sig.get("kwargs") or {}),
            group_id=opts.get("group_id"),
            group_index=opts.get("group_index"),
            retries=opts.get("retries") or 0,
            chord=opts.get("chord"),
            callbacks=maybe_list(opts.get("link")),
            errbacks=maybe_list(opts.get("link_error")),
            reply_to=opts.get("reply_to"),
            time_limit=opts.get("time_limit"),
            soft_time_limit=opts.get("soft_time_limit"),
            root_id=opts.get("root_id"),
            parent_id=opts.get("parent_id"),
            shadow=opts.get("shadow"),
            chain=opts.get("chain"),
            origin=opts.get("origin"),
            ignore_result=bool(opts.get("ignore_result")),
            replaced_task_nesting=opts.get("replaced_task_nesting") or 0,
            stamped_headers=stamped,
            **{name: opts.get(name) for name in stamped},
        )
        args, kwargs, embed = message.body
        request = {
            **(opts.get("headers") or {}),
            **message.headers,
            **embed,
            "args": args,
            "kwargs": kwargs,
            "hostname": self.hostname,
            "is_eager": False,
            "reply_to": message.properties["reply_to"],
            "correlation_id": task_id,
            "delivery_info": {
                "exchange": "",
                "routing_key": self.app.mj_settings.mj_control_queue,
                "priority": opts.get("priority"),
                "redelivered": False,
            },
        }
        return args, kwargs, request

    def _tracer(self, task: Task) -> Tracer:
        """The task's tracer, built once (two threads racing build two; one is kept)."""
        tracer = self._tracers.get(task.name)
        if tracer is None:
            built = build_tracer(task.name, task, hostname=self.hostname, app=self.app)
            tracer = self._tracers.setdefault(task.name, built)
        return tracer


__all__ = ["ReportHere"]
