"""The public Celery tasks (`mj.*`) and `pipeline`; other services call them by these names,
so names and arguments only ever grow (see the README's task table).

Each task is thin: it hands its inputs to `worker.jobs.submit.advance` and turns the outcome into
Celery's terms — return the job result, raise the failure, or `Ignore` while the job is parked
(it is re-published with the same id and chain when it can move on).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import Task
from celery.canvas import Signature
from celery.exceptions import Ignore
from celery.signals import task_revoked

from worker import schedules
from worker.app import app, task_signature
from worker.engine import upgrade
from worker.jobs import entry, maintenance
from worker.jobs.delivery import delivered
from worker.jobs.download import TRANSIENT_ERRORS, download_result, target_directory
from worker.jobs.outcome import Done, Failed, Revoked
from worker.jobs.revoke import cancel_parked, on_revoked
from worker.pipelines import build_pipeline
from worker.revoke_command import on_revoke_command

__all__ = ["action", "blend", "describe", "download", "imagine", "inpaint", "pipeline", "seed"]


class JobTask(Task):
    """Base of the job tasks: an outcome counts as delivered once Celery has stored it."""

    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called after the result backend stored SUCCESS/FAILURE (not after `Ignore`)."""
        if status in ("SUCCESS", "FAILURE") and task_id:
            delivered(app.runtime, task_id)


def _run(
    task: Task, kind: str, params: dict[str, Any], *, account: str | None = None, parent: Any = None
) -> dict[str, Any]:
    job_id = str(task.request.id)
    outcome = entry.run(
        app.runtime,
        job_id,
        kind,
        params,
        signature=lambda: task_signature(task),
        account=account,
        parent=parent,
        expires_at=epoch(task.request.expires),
    )
    if isinstance(outcome, Done):
        return outcome.result
    if isinstance(outcome, Failed):
        raise outcome.error
    if isinstance(outcome, Revoked):
        task.backend.mark_as_revoked(job_id, outcome.reason, request=task.request)
        delivered(app.runtime, job_id)
    raise Ignore()


def epoch(expires: Any) -> float:
    """A message's `expires` (ISO-8601 text or datetime; naive means UTC) as epoch seconds."""
    if not expires:
        return 0.0
    when = expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@task_revoked.connect
def _on_revoked(
    sender: Any = None,
    request: Any = None,
    expired: bool = False,
    terminated: bool = False,
    **_: Any,
) -> None:
    """Celery dropped a job task's message (revoke() or `expires`): end or keep the job.

    Runs in the worker's main process, where Celery keeps its set of revoked ids. A step
    terminated while running is left alone: its job goes on from its record (a revoke with
    terminate=True also drops the job's next message, which ends it here).
    """
    if not isinstance(sender, JobTask) or request is None or not request.id or terminated:
        return
    job_id = str(request.id)
    if on_revoked(app.runtime, job_id, expired=expired):
        # Only its `expires` passed, and TTAPI already has the job: forget the revoke, so
        # the re-publish that delivers its result is not dropped too.
        from celery.worker.state import revoked as revoked_ids

        revoked_ids.discard(job_id)


def _cancel_parked(task_ids: list[str]) -> None:
    """A `revoke()` reached this worker: parked jobs end REVOKED now, never submitted.

    A parked job may be handed a slot with no message of its own (see `take_over`), so
    waiting for Celery to drop its next message is not enough. Every worker gets the
    command; the record's compare-and-set lets one of them cancel and store REVOKED.
    """
    for job_id in cancel_parked(app.runtime, task_ids):
        app.backend.mark_as_revoked(job_id, "revoked")
        delivered(app.runtime, job_id)


on_revoke_command(_cancel_parked)


@app.task(name="mj.imagine", bind=True, base=JobTask)
def imagine(
    self: Task,
    prompt: str,
    mode: str = "fast",
    timeout: int | None = None,
    get_u_images: bool = False,
    account: str | None = None,
) -> dict[str, Any]:
    """Generate a 4-image grid from `prompt`; returns the job result once TTAPI is done."""
    return _run(
        self,
        "imagine",
        {"prompt": prompt, "mode": mode, "timeout": timeout, "get_u_images": get_u_images},
        account=account,
    )


@app.task(name="mj.action", bind=True, base=JobTask)
def action(self: Task, parent: Any, action: str, timeout: int | None = None) -> dict[str, Any]:
    """Press `action` (upsample2, upscale_creative, ...) on `parent` (a result or a job id)."""
    return _run(self, "action", {"action": action, "timeout": timeout}, parent=parent)


@app.task(name="mj.seed", bind=True, base=JobTask)
def seed(self: Task, parent: Any) -> dict[str, Any]:
    """Get the seed of `parent`."""
    return _run(self, "seed", {}, parent=parent)


@app.task(name="mj.blend", bind=True, base=JobTask)
def blend(
    self: Task,
    images: list[str],
    dimensions: str = "SQUARE",
    mode: str = "fast",
    account: str | None = None,
) -> dict[str, Any]:
    """Blend 2–5 data-URI images."""
    return _run(
        self, "blend", {"images": images, "dimensions": dimensions, "mode": mode}, account=account
    )


@app.task(name="mj.describe", bind=True, base=JobTask)
def describe(
    self: Task, image: str, mode: str = "fast", account: str | None = None
) -> dict[str, Any]:
    """Describe a data-URI image as four prompts."""
    return _run(self, "describe", {"image": image, "mode": mode}, account=account)


@app.task(name="mj.inpaint", bind=True, base=JobTask)
def inpaint(self: Task, parent: Any, mask: str, prompt: str | None = None) -> dict[str, Any]:
    """Vary the masked region of `parent` (Vary Region), optionally with a new prompt."""
    return _run(self, "inpaint", {"mask": mask, "prompt": prompt}, parent=parent)


@app.task(name="mj.poll", ignore_result=True, send_events=False)
def poll(job_id: str, seq: int) -> None:
    """Kept for messages of the version before the engine: a fetch, handed to the engine."""
    upgrade.poll(app.runtime, job_id, seq)


@app.task(name="mj.tick", ignore_result=True, send_events=False)
def tick(label: str, due_ms: int = 0) -> int:
    """Kept for messages of the version before the engine: an account's due polls, handed to
    the engine that holds it."""
    return upgrade.tick(app.runtime, label)


@app.task(name="mj.fill", ignore_result=True, send_events=False)
def fill(label: str) -> None:
    """Kept for messages of the version before the engine: a fill, handed to the engine."""
    upgrade.fill(app.runtime, label)


@app.task(name="mj.pump", ignore_result=True, send_events=False)
def pump() -> dict[str, int]:
    """Maintenance: lost wake-ups, stalled polls, undelivered results."""
    return maintenance.pump(app.runtime)


@app.task(name="mj.refresh_accounts", ignore_result=True, send_events=False)
def refresh_accounts() -> dict[str, dict[str, object]]:
    """Maintenance: read each account's /info (cap and balance)."""
    return maintenance.refresh_accounts(app.runtime)


@app.task(
    name="mj.download",
    bind=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
)
def download(self: Task, result: dict[str, Any], directory: str | None = None) -> dict[str, Any]:
    """Store the images of `result` (the previous step's) under `MJ_DOWNLOAD_DIR/<job_id>/`.

    `directory` may name a sub-folder of MJ_DOWNLOAD_DIR: a relative path without `..`, or an
    absolute path that is MJ_DOWNLOAD_DIR or lies inside it; anything else fails, as does a
    worker without MJ_DOWNLOAD_DIR. Images over MJ_DOWNLOAD_MAX_BYTES fail. 5xx, 429 and
    network trouble are retried by Celery (re-published with a jittered backoff of at most
    60 s, far below the visibility timeout) rather than by sleeping in this process.
    Returns `result` plus `files` and `download_dir`.
    """
    settings = app.mj_settings
    target = target_directory(settings.mj_download_dir, directory)
    return download_result(
        result,
        target,
        allow_private=settings.mj_download_allow_private,
        timeout=(settings.mj_http_connect_timeout_s, 60.0),
        max_bytes=settings.mj_download_max_bytes,
    )


@app.task(name="mj.run_schedule", bind=True)
def run_schedule(
    self: Task,
    name: str,
    prompt: str,
    then: list[str] | None = None,
    mode: str = "fast",
    account: str | None = None,
    download: str | None = None,
) -> str:
    """Internal (beat): start the user schedule `name`'s pipeline; returns its first task id.

    The pipeline's task ids derive from this message's id, so a redelivered message (late
    acks: a worker lost mid-run) publishes the same tasks again, which their job records
    ignore, instead of a second paid pipeline.
    """
    return schedules.start_pipeline(
        app,
        pipeline,
        prompt=prompt,
        then=then,
        mode=mode,
        account=account,
        download=download,
        run_id=self.request.id,
    )


def pipeline(prompt: str, *actions: str, **opts: Any) -> Signature:
    """The chain imagine(prompt, **opts) → action(a1) → action(a2) ... as one signature."""
    return build_pipeline(app, prompt, actions, **opts)
