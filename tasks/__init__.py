"""The public Celery tasks (`mj.*`) and `pipeline`; other services call them by these names,
so names and arguments only ever grow (see the README's task table).

Every task is thin: the job tasks (`tasks.jobs`, re-exported here) hand their inputs to
`worker.jobs.entry`; the others here are maintenance, `mj.download` and the schedules' runs.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.canvas import Signature

from tasks import (
    jobs,
    revokes,  # noqa: F401  (its signal handlers: revoke and expires of job tasks)
)
from tasks.jobs import *  # noqa: F403  (the job tasks, one per kind: their names are jobs.__all__)
from worker.adapter import schedules
from worker.adapter.app import app
from worker.adapter.pipelines import build_pipeline
from worker.adapter.schedule_slots import run_id
from worker.engine import upgrade
from worker.jobs import maintenance
from worker.jobs.download import TRANSIENT_ERRORS, download_result, target_directory
from worker.policy import (
    DOWNLOAD_BACKOFF_MAX_S,
    DOWNLOAD_BACKOFF_S,
    DOWNLOAD_READ_TIMEOUT_S,
    DOWNLOAD_RETRIES,
)
from worker.storage.local import download_stored, stored_objects
from worker.storage.target import storage_for

__all__ = sorted([*jobs.__all__, "download", "pipeline"])


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
    done, effects = maintenance.pump(app.runtime)
    app.dispatcher.carry_out(effects)
    return done


@app.task(name="mj.refresh_accounts", ignore_result=True, send_events=False)
def refresh_accounts() -> dict[str, dict[str, object]]:
    """Maintenance: read each account's /info (cap and balance)."""
    seen, effects = maintenance.refresh_accounts(app.runtime)
    app.dispatcher.carry_out(effects)
    return seen


@app.task(
    name="mj.download",
    bind=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=DOWNLOAD_RETRIES,
    retry_backoff=DOWNLOAD_BACKOFF_S,
    retry_backoff_max=DOWNLOAD_BACKOFF_MAX_S,
    retry_jitter=True,
)
def download(self: Task, result: dict[str, Any], directory: str | None = None) -> dict[str, Any]:
    """Store the images of `result` (the previous step's) under `MJ_DOWNLOAD_DIR/<job_id>/`.

    `directory` may name a sub-folder of MJ_DOWNLOAD_DIR: a relative path without `..`, or an
    absolute path that is MJ_DOWNLOAD_DIR or lies inside it; anything else fails, as does a
    worker without MJ_DOWNLOAD_DIR. Images over MJ_DOWNLOAD_MAX_BYTES fail. 5xx, 429 and
    network trouble are retried by Celery (re-published with a jittered backoff of at most
    60 s, far below the visibility timeout) rather than by sleeping in this process.
    Returns `result` plus `files` and `download_dir`. A stored result (`stored`, with
    MJ_STORAGE_URL set) is read through the store's client, not its links.
    """
    settings = app.mj_settings
    target = target_directory(settings.mj_download_dir, directory)
    storage = storage_for(settings)
    if storage is not None and stored_objects(result):  # read through the store's client
        return download_stored(result, target, storage, max_bytes=settings.mj_download_max_bytes)
    return download_result(
        result,
        target,
        allow_private=settings.mj_download_allow_private,
        timeout=(settings.mj_http_connect_timeout_s, DOWNLOAD_READ_TIMEOUT_S),
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
    scheduled_at: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> str:
    """Internal (beat): start the user schedule `name`'s pipeline; returns its first task id.

    The pipeline's task ids derive from the entry's name and `scheduled_at` (when the run was
    due, passed by beat), so a redelivered message (late acks: a worker lost mid-run) or the
    same run sent by a second beat (a rolling redeploy) publishes the same tasks again, which
    their job records ignore, instead of a second paid pipeline. A message from an older beat
    (no `scheduled_at`) derives them from its own id.
    """
    prefix = app.mj_settings.mj_key_prefix
    run = run_id(prefix, name, scheduled_at) if scheduled_at else self.request.id
    return schedules.start_pipeline(
        app,
        pipeline,
        prompt=prompt,
        then=then,
        mode=mode,
        account=account,
        download=download,
        run_id=run,
        tenant=tenant,
        priority=priority,
    )


def pipeline(prompt: str, *actions: str, **opts: Any) -> Signature:
    """The chain imagine(prompt, **opts) → action(a1) → action(a2) ... as one signature."""
    return build_pipeline(app, prompt, actions, **opts)
