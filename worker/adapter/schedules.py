"""User beat schedules: prompts that run as pipelines on a cron or an interval.

The file (`MJ_SCHEDULE_FILE`, `.toml` or `.json`) lists entries under `schedule`:

    [[schedule]]
    name = "morning-lighthouse"
    cron = "0 9 * * *"            # minute hour day-of-month month day-of-week, in UTC
    # every = "1h"                # or an interval: "30s", "15m", "1h30m", "2d", or seconds (90)
    prompt = "a lighthouse at dawn --ar 16:9"
    then = ["upsample2"]          # follow-ups as `mjw submit --then` takes them (actions,
                                  # "video:high", ...), optional
    mode = "fast"                 # fast | relax | turbo, optional
    account = "acct-1a2b3c4d"     # pin an account label, optional
    download = "lighthouse"       # store the last step's images, optional: a sub-folder of
                                  # the worker's MJ_DOWNLOAD_DIR (or an absolute path inside it)
    tenant = "nightly"            # who asks (MJ_TENANTS), optional
    priority = "low"              # high | normal | low, optional (default normal)

JSON has the same shape: `{"schedule": [{...}, ...]}` (a bare list is accepted too).

Each entry becomes one Celery beat entry that runs `mj.run_schedule`; that task only builds
the chain and publishes it (`start_pipeline`), so the user's pipeline runs as ordinary `mj.*`
tasks under the guard, and beat never waits on TTAPI. Every error names the file, the entry
(index and name) and the field, so a typo stops start-up with a message one can act on.

A run is idempotent: the ids of its pipeline's tasks derive from the entry's name and the time
the run was due (`step_ids` of `schedule_slots.run_id`), which beat passes and which a
redelivery keeps. Run twice (late acks, a worker lost after publishing, two beats during a
rolling redeploy), it publishes the same task ids again, and the job records, keyed by task
id, make the second publish harmless: no prompt is paid for twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from celery.canvas import Signature

from worker.adapter.schedule_entries import (
    ScheduleEntry,
    ScheduleError,
    parse_cron,
    parse_entries,
    parse_every,
    read_file,
)
from worker.adapter.schedule_slots import RUN_TASK
from worker.policy import SCHEDULE_EXPIRES_MAX_S, SCHEDULE_EXPIRES_MIN_S

#: Prefix of the beat entry names, so user names never clash with the built-in ones.
ENTRY_PREFIX = "user:"
#: Namespace of the pipeline task ids of schedule runs (uuid5 over the run and the step).
_RUN_NAMESPACE = uuid.UUID("6f0c33a4-8d0e-5b8e-9a57-3f1c2f7d9e41")


def load_user_schedules(path: str | Path) -> dict[str, dict[str, Any]]:
    """Celery `beat_schedule` entries (`user:<name>`) for every entry of the schedule file."""
    path = Path(path)
    entries = parse_entries(read_file(path), f"MJ_SCHEDULE_FILE {path}")
    return {
        ENTRY_PREFIX + e.name: {
            "task": RUN_TASK,
            "schedule": e.schedule,
            "kwargs": e.run_kwargs(),
            "options": {"expires": _expires_s(e.schedule)},
        }
        for e in entries
    }


def _expires_s(sched: Any) -> float:
    """A run left unstarted past its next one (workers down) is dropped, not paid for later."""
    every = getattr(sched, "run_every", None)
    seconds = every.total_seconds() if every is not None else SCHEDULE_EXPIRES_MAX_S
    return max(SCHEDULE_EXPIRES_MIN_S, min(seconds, SCHEDULE_EXPIRES_MAX_S))


def step_ids(run_id: str, count: int) -> list[str]:
    """The task ids of a run's `count` pipeline steps: uuid5 of the run's id and the step
    number, so the same run always gets the same ids and two runs never share one."""
    return [str(uuid.uuid5(_RUN_NAMESPACE, f"{run_id}/{i}")) for i in range(count)]


def start_pipeline(
    app: Celery,
    pipeline: Callable[..., Signature],
    *,
    prompt: str,
    then: list[str] | None = None,
    mode: str = "fast",
    account: str | None = None,
    download: str | None = None,
    run_id: str | None = None,
    tenant: str | None = None,
    priority: str | None = None,
) -> str:
    """Publish imagine → then... (→ mj.download) and return the id of its first task.

    `run_id` (the run's `schedule_slots.run_id`, or the message's id from an older beat)
    fixes every step's task id, so publishing the same run again sends the same tasks;
    without it the run gets fresh ids.
    """
    opts: dict[str, Any] = {"mode": mode}
    for name, value in (("account", account), ("tenant", tenant), ("priority", priority)):
        if value:
            opts[name] = value
    sig = pipeline(prompt, *(then or []), **opts)
    if download:
        sig = sig | app.signature("mj.download", kwargs={"directory": download})
    steps: list[Signature] = list(getattr(sig, "tasks", None) or [sig])
    ids = step_ids(run_id or str(uuid.uuid4()), len(steps))
    for step, task_id in zip(steps, ids, strict=True):
        step.set(task_id=task_id)
    sig.apply_async()
    return ids[0]


__all__ = [
    "ENTRY_PREFIX",
    "ScheduleEntry",
    "ScheduleError",
    "load_user_schedules",
    "parse_cron",
    "parse_entries",
    "parse_every",
    "read_file",
    "start_pipeline",
    "step_ids",
]
