"""The job tasks (`mj.imagine` ... `mj.edit`): each hands its inputs to `worker.jobs.entry.run`,
carries out the effects the run returns (the app's dispatcher) and turns its outcome into
Celery's terms — return the job result, raise the failure, or `Ignore` while the job is
parked or in flight (its task runs again to report its end).

Names and arguments only ever grow (the README's task table); `tasks` re-exports them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.app.task import get_actual_ignore_result
from celery.exceptions import Ignore

from worker.adapter.app import app
from worker.adapter.signatures import task_signature
from worker.jobs import entry
from worker.jobs.delivery import delivered
from worker.jobs.outcome import Done, Failed, Revoked
from worker.jobs.states import TaskState

__all__ = [
    "JobTask",
    "action",
    "blend",
    "describe",
    "edit",
    "epoch",
    "imagine",
    "inpaint",
    "seed",
    "video",
    "video_extend",
]


class JobTask(Task):
    """Base of the job tasks: an outcome counts as delivered once Celery has stored it."""

    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called after the result backend stored SUCCESS/FAILURE (not after `Ignore`)."""
        if status in (TaskState.SUCCESS, TaskState.FAILURE) and task_id:
            delivered(app.runtime, task_id, stored_at(self, self.request, status))


def stored_at(task: Task, request: Any, status: str) -> bytes | None:
    """Celery's result key of the job if Celery stores an outcome in `status` there (the
    delivery note checks it: `worker.jobs.delivery.delivered`), else None (nothing stored:
    an ignored result, an eager run)."""
    if getattr(request, "is_eager", False):
        return None
    if get_actual_ignore_result(task, request) and not (
        status != TaskState.SUCCESS and task.store_errors_even_if_ignored
    ):
        return None
    return bytes(task.backend.get_key_for_task(request.id))


#: Task arguments that say who asks and where the job runs; the others are the job's parameters.
_CALLER_ARGS = ("account", "parent", "tenant", "priority")


def _run(task: Task, args: dict[str, Any]) -> dict[str, Any]:
    """Run the job of `task`'s kind (`mj.<kind>`) with the task's arguments, its `locals()`:
    `account`, `parent`, `tenant` and `priority` where it takes them, the rest are the job's
    parameters as its kind's spec reads them (`worker.ttapi.kinds`)."""
    job_id = str(task.request.id)
    params = {k: v for k, v in args.items() if k != "self" and k not in _CALLER_ARGS}
    outcome, effects = entry.run(
        app.runtime,
        job_id,
        str(task.name).removeprefix("mj."),
        params,
        signature=task_signature(task),  # as data (about 20 µs): the entry calls nothing back
        account=args.get("account"),
        parent=args.get("parent"),
        expires_at=epoch(task.request.expires),
        tenant=args.get("tenant"),
        priority=args.get("priority"),
    )
    if effects:
        app.dispatcher.carry_out(effects)
    if isinstance(outcome, Done):
        return outcome.result
    if isinstance(outcome, Failed):
        raise outcome.error
    if isinstance(outcome, Revoked):
        task.backend.mark_as_revoked(job_id, outcome.reason, request=task.request)
        delivered(app.runtime, job_id, task.backend.get_key_for_task(job_id))
    raise Ignore()


def epoch(expires: Any) -> float:
    """A message's `expires` (ISO-8601 text or datetime; naive means UTC) as epoch seconds."""
    if not expires:
        return 0.0
    when = expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@app.task(name="mj.imagine", bind=True, base=JobTask)
def imagine(
    self: Task,
    prompt: str,
    mode: str = "fast",
    timeout: int | None = None,
    get_u_images: bool = False,
    account: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Generate a 4-image grid from `prompt`; returns the job result once TTAPI is done."""
    return _run(self, locals())


@app.task(name="mj.action", bind=True, base=JobTask)
def action(
    self: Task,
    parent: Any,
    action: str,
    timeout: int | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Press `action` (upsample2, upscale_creative, ...) on `parent` (a result or a job id)."""
    return _run(self, locals())


@app.task(name="mj.seed", bind=True, base=JobTask)
def seed(
    self: Task, parent: Any, tenant: str | None = None, priority: str | None = None
) -> dict[str, Any]:
    """Get the seed of `parent`."""
    return _run(self, locals())


@app.task(name="mj.blend", bind=True, base=JobTask)
def blend(
    self: Task,
    images: list[str],
    dimensions: str = "SQUARE",
    mode: str = "fast",
    account: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Blend 2–5 data-URI images."""
    return _run(self, locals())


@app.task(name="mj.describe", bind=True, base=JobTask)
def describe(
    self: Task,
    image: str,
    mode: str = "fast",
    account: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Describe a data-URI image as four prompts."""
    return _run(self, locals())


@app.task(name="mj.inpaint", bind=True, base=JobTask)
def inpaint(
    self: Task,
    parent: Any,
    mask: str,
    prompt: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Vary the masked region of `parent` (Vary Region), optionally with a new prompt."""
    return _run(self, locals())


@app.task(name="mj.video", bind=True, base=JobTask)
def video(
    self: Task,
    parent: Any = None,
    image: str | None = None,
    prompt: str | None = None,
    index: int | None = None,
    end_image: str | None = None,
    motion: str = "low",
    resolution: str = "sd",
    batch: int = 4,
    account: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Make clips of about 5 s from `image` (a public URL) or picture `index` of `parent` (a
    finished image job: then a follow-up on its account, its prompt unless `prompt` is given).
    The result carries the clips' URLs in `videos`."""
    return _run(self, locals())


@app.task(name="mj.video_extend", bind=True, base=JobTask)
def video_extend(
    self: Task,
    parent: Any,
    index: int | None = None,
    motion: str = "low",
    animate: str = "auto",
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Continue clip `index` (0–3) of `parent`, a finished video job, by about 5 s."""
    return _run(self, locals())


@app.task(name="mj.edit", bind=True, base=JobTask)
def edit(
    self: Task,
    image: Any,
    prompt: str | None = None,
    type: str = "edit",
    mode: str = "fast",
    account: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """Redraw the transparent areas of `image` (a URL or data URI; in a chain, the previous
    step's picture) after `prompt`, or restyle all of it with `type="retexture"`."""
    return _run(self, locals())
