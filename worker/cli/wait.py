"""Watching one pipeline until it ends: `mjw submit --wait` and `mjw wait TASK_ID`.

`mjw submit` stores the chain's steps under `mj:chain:<task id>` (one key per step, kept as long
as Celery keeps results), so `mjw wait` re-attaches from any step's id; an id sent by another
service is watched alone. Each tick reads every step in one MGET. A step in the WAITING or
SUBMITTED state shows its `info` (position and account, or TTAPI progress); other steps fall
back to the job record. Nothing here sends a task: Ctrl-C or a timeout leaves the pipeline
running in the workers and says how to re-attach.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from celery.canvas import Signature
from redis import Redis
from rich.console import Console
from rich.live import Live
from rich.table import Table

from worker.cli.errors import Interrupted, JobError
from worker.cli.results import Meta, ResultReader
from worker.jobs.record import RecordState
from worker.jobs.states import TaskState
from worker.keys import KEYS, Keys


class Records(Protocol):
    """Where job records are read (`worker.jobs.records.RecordStore`)."""

    def load(self, job_id: str) -> Any:
        """The record of `job_id`, or None."""


@dataclass(frozen=True)
class Step:
    """One task of a pipeline: its id and what it does (imagine, upsample2, download, ...)."""

    id: str
    name: str = ""


@dataclass(frozen=True)
class Outcome:
    """How a pipeline ended: the step that decided it and its state and value."""

    step: int
    name: str
    meta: Meta


def steps_of(sig: Signature) -> list[Step]:
    """The steps of a frozen chain (or single signature), named by task and action."""
    tasks = getattr(sig, "tasks", None) or [sig]
    return [
        Step(
            str(t.options.get("task_id")),
            str(t.kwargs.get("action") or str(t.task).removeprefix("mj.")),
        )
        for t in tasks
    ]


def remember_chain(redis: Redis, steps: list[Step], ttl_s: int, *, keys: Keys = KEYS) -> None:
    """Store the steps under every step's id (one round trip), for `mjw wait`."""
    value = json.dumps([[s.id, s.name] for s in steps])
    pipe = redis.pipeline(transaction=False)
    for s in steps:
        pipe.set(keys.chain(s.id), value, ex=ttl_s)
    pipe.execute()


def chain_of(redis: Redis, task_id: str, *, keys: Keys = KEYS) -> list[Step]:
    """The steps of the pipeline `task_id` belongs to; just that task when none was stored."""
    raw = redis.get(keys.chain(task_id))
    if not raw:
        return [Step(task_id)]
    return [Step(str(i), str(n)) for i, n in json.loads(raw)]


def describe(step: Step, meta: Meta, records: Records | None) -> tuple[str, str, str]:
    """(what, state, detail) of one step, for the live view."""
    what = f"{step.name} {step.id[:8]}".strip()
    info = meta.info
    if meta.state == TaskState.WAITING:
        return (
            what,
            TaskState.WAITING,
            f"position {info.get('position', '?')} on {info.get('account')}",
        )
    if meta.state == TaskState.SUBMITTED:
        return what, TaskState.SUBMITTED, f"{info.get('progress', 0)}% on {info.get('account')}"
    rec = records.load(step.id) if records is not None and not meta.ready else None
    if rec is None:
        return what, meta.state, ""
    what = f"{step.name or rec.params.get('action') or rec.kind} {step.id[:8]}"
    detail = f"{rec.progress}% on {rec.account}" if rec.state == RecordState.SUBMITTED else ""
    return what, rec.state, detail


def decided(steps: list[Step], metas: list[Meta]) -> Outcome | None:
    """The outcome once the last step ended or any step failed; None while it runs."""
    for n, (step, meta) in enumerate(zip(steps, metas, strict=True)):
        if meta.ready and not meta.ok:
            return Outcome(n + 1, step.name, meta)
    if metas[-1].ready:
        return Outcome(len(steps), steps[-1].name, metas[-1])
    return None


def follow(
    steps: list[Step],
    reader: ResultReader,
    records: Records | None,
    err: Console,
    *,
    tick: float = 0.25,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Show every step live on `err` until the pipeline ends; its outcome."""
    hint = f"mjw wait {steps[-1].id}"
    started = time.monotonic()

    def view(metas: list[Meta]) -> Table:
        table = Table(box=None)
        for col in ("step", "task", "state", "progress"):
            table.add_column(col)
        for n, (step, meta) in enumerate(zip(steps, metas, strict=True), 1):
            table.add_row(str(n), *describe(step, meta, records))
        return table

    shown = False
    try:
        metas = reader.read([s.id for s in steps])
        with Live(view(metas), console=err, refresh_per_second=4) as live:
            shown = True
            while (outcome := decided(steps, metas)) is None:
                if timeout is not None and time.monotonic() - started > timeout:
                    raise JobError(
                        f"not finished after {timeout:g} s; it goes on in the "
                        f"workers; re-attach with: {hint}"
                    )
                sleep(tick)  # a terminal watching results; nothing waits inside a task
                metas = reader.read([s.id for s in steps])
                live.update(view(metas))
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: the pipeline goes on in the workers; re-attach with: {hint}"
        ) from None
    finally:
        if shown and not err.is_terminal:
            err.line()  # Live ends its last frame with a newline only on a terminal
    return outcome


def failure_text(outcome: Outcome) -> str:
    """`step N (name) FAILURE: ErrorClass: message`."""
    error = outcome.meta.value
    name = type(error).__name__ if isinstance(error, BaseException) else "Error"
    where = f"step {outcome.step}" + (f" ({outcome.name})" if outcome.name else "")
    return f"{where} {outcome.meta.state}: {name}: {error}"


def result_document(steps: list[Step], outcome: Outcome) -> dict[str, Any]:
    """What `--json` prints: the last step's job result, or the error and where it happened."""
    if outcome.meta.ok and isinstance(outcome.meta.value, dict):
        return dict(outcome.meta.value)
    error = outcome.meta.value
    return {
        "task_id": steps[-1].id,
        "status": outcome.meta.state,
        "failed_task_id": steps[outcome.step - 1].id,
        "step": outcome.step,
        "action": outcome.name or None,
        "error": failure_text(outcome),
        "error_type": type(error).__name__ if isinstance(error, BaseException) else None,
    }


def result_lines(result: Any) -> list[str]:
    """The human summary of a job result: action, id and URL, then images, videos and saved
    files (a video or edit job has no `image_url`: its first clip or image stands there)."""
    if not isinstance(result, dict):
        return [str(result)]
    listed = [str(u) for u in [*(result.get("images") or []), *(result.get("videos") or [])]]
    main = result.get("image_url") or (listed.pop(0) if listed else None)
    lines = [f"{result.get('action')} {result.get('job_id')}: {main}"]
    lines += [f"  {url}" for url in listed]
    lines += [f"  saved {f['path']}" for f in result.get("files") or []]
    return lines
