"""An unexpected error inside a job's step (a Redis call that gave up, a time limit, a bug),
once the job's record exists: the record owns it, and the step is tried again from there.

The error is counted on the record (`step_errors`). A job not yet sent to TTAPI is tried again
after a backoff (`Retry.STEP`): the entry re-runs its task, the engine submits again on its own
timers (no Celery message). After `MAX_STEP_ERRORS` such errors it fails clearly through its
record instead. A job TTAPI may have is left to whoever drives it (the engine's timers and
scans, the pump): a step never resubmits a job that may have been sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from worker.jobs.backoff import Retry
from worker.jobs.effects import Effect, Effects, Failed, Outcome, Park
from worker.jobs.record import TERMINAL, UNSENT
from worker.jobs.runtime import Runtime
from worker.jobs.settle import fail
from worker.policy import MAX_STEP_ERRORS
from worker.ttapi import errors

log = logging.getLogger(__name__)


def after_error(
    rt: Runtime, job_id: str, exc: Exception, again: Callable[[float], Effect]
) -> tuple[Outcome, Effects]:
    """What follows an unexpected error in a step of `job_id`: `again(delay_s)` tries the step
    again; `Failed` once it has failed too often (its record says FAILED, owed to its caller)."""
    what = f"{type(exc).__name__}: {exc}"[:300]
    count = int(rt.redis.hincrby(rt.keys.job(job_id), "step_errors", 1))
    rec = rt.records.load(job_id)
    if rec is None or rec.state in TERMINAL:
        return Park(), []  # it ended meanwhile: its own report delivers it
    if count >= MAX_STEP_ERRORS and rec.state in UNSENT:
        message = f"internal error in mj-worker, the job was never sent to TTAPI ({what})"
        failed, fx = fail(rt, rec, message, from_states=UNSENT)
        return (Failed(errors.TTAPIError(message)) if failed else Park()), fx
    log.error("job %s: step failed (%s); it goes on from its record", job_id, what)
    if rec.state in UNSENT:
        return Park(), [again(rt.timing.backoff(Retry.STEP, count))]
    return Park(), []  # a job TTAPI may have: the engine or the pump moves it on


__all__ = ["after_error"]
