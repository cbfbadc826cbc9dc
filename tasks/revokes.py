"""What a job task does when Celery drops its message: `revoke()`, `expires`, and a revoke that
reaches a worker while the job is parked (no message of its own to drop)."""

from __future__ import annotations

from typing import Any

from celery.signals import task_revoked, worker_init

from tasks.jobs import JobTask, stored_at
from worker.adapter.app import app
from worker.adapter.patches import revoke_command
from worker.jobs.delivery import delivered
from worker.jobs.revoke import REVOKED, cancel_parked, on_revoked
from worker.jobs.states import TaskState


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
    stored = stored_at(sender, request, TaskState.REVOKED)  # as Celery's `store_errors`
    goes_on, effects = on_revoked(app.runtime, job_id, expired=expired, outcome_key=stored)
    app.dispatcher.carry_out(effects)
    if goes_on:
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
    cancelled, effects = cancel_parked(app.runtime, task_ids)
    for job_id in cancelled:
        app.backend.mark_as_revoked(job_id, REVOKED)
        delivered(app.runtime, job_id, app.backend.get_key_for_task(job_id))
    app.dispatcher.carry_out(effects)


@worker_init.connect
def _watch_revokes(**_: Any) -> None:
    """A worker's main process acts on every revoke it receives (`revoke_command`)."""
    revoke_command.apply(_cancel_parked)
