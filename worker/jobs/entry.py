"""One run of a job's task, whatever goes wrong inside it: the record owns the outcome.

`run` is what every `mj.*` task does with its message. Once a job's record exists, an error
that is not TTAPI's (a Redis call that gave up, a time limit, a bug) must not end the task in
FAILURE while the job goes on: its caller would see a failure and later, when the job ends,
its callbacks would fire too. So such an error parks the run; the job goes on from its record
(re-published here after a pause, or revived by the pump), and after `MAX_STEP_ERRORS` in a
row a job that has not reached TTAPI fails clearly through its record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from worker.jobs.outcome import Failed, Outcome, Park
from worker.jobs.records import NEW, TERMINAL, WAITING
from worker.jobs.settle import fail
from worker.jobs.submit import advance
from worker.policy import MAX_STEP_ERRORS
from worker.runtime import Runtime
from worker.ttapi import errors

log = logging.getLogger(__name__)


def run(
    rt: Runtime,
    job_id: str,
    kind: str,
    params: dict[str, Any],
    *,
    signature: Callable[[], dict[str, Any]],
    account: str | None = None,
    parent: Any = None,
    expires_at: float = 0.0,
) -> Outcome:
    """`advance` the job; an unexpected error parks it instead of failing the task (see the
    module docstring). An error before any record exists is the task's own: it propagates."""
    try:
        return advance(
            rt,
            job_id,
            kind,
            params,
            signature=signature,
            account=account,
            parent=parent,
            expires_at=expires_at,
        )
    except Exception as exc:
        rec = rt.records.load(job_id)
        if rec is None:
            raise
        return _after_error(rt, rec.job_id, exc)


def _after_error(rt: Runtime, job_id: str, exc: Exception) -> Outcome:
    what = f"{type(exc).__name__}: {exc}"[:300]
    count = int(rt.redis.hincrby(rt.keys.job(job_id), "step_errors", 1))
    rec = rt.records.load(job_id)
    if rec is None:
        return Park()
    if rec.state in TERMINAL:
        return Park()  # it ended meanwhile: its own report delivers it
    if count >= MAX_STEP_ERRORS and rec.state in (NEW, WAITING):
        message = f"internal error in mj-worker, the job was never sent to TTAPI ({what})"
        if fail(rt, rec, message, from_states=(NEW, WAITING)):
            return Failed(errors.TTAPIError(message))
        return Park()
    log.error("job %s: step failed (%s); it goes on from its record", job_id, what)
    if rec.state in (NEW, WAITING):
        rt.dispatcher.resume(job_id, rt.timing.submit_retry_s * 2 ** min(count, 6))
    return Park()  # a job TTAPI may have: its poll or the pump moves it on


__all__ = ["run"]
