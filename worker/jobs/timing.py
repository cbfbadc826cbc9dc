"""When a submitted job is fetched next, and when it is given up: a job's clock.

The gap comes from `cadence.next_gap` (the polling policy); the deadline from TTAPI's own
timeout for the job, scaled, plus a grace.
"""

from __future__ import annotations

from worker.jobs.cadence import next_gap
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.policy import DEFAULT_TIMEOUT_S, RELAX_TIMEOUT_S
from worker.ttapi.requests import mode_of


def poll_gap(rt: Runtime, rec: JobRecord, now: float, *, errors_in_row: int = 0) -> float:
    """Seconds until the next fetch of a submitted job, as the polling policy chooses."""
    if rt.settings.mj_hook_base_url and errors_in_row == 0:
        # The webhook ends the job; polling only catches a callback that never came. Half the
        # visibility timeout keeps Redis from redelivering the countdown message early.
        return min(rt.settings.mj_hook_safety_poll_s, rt.settings.mj_visibility_timeout_s / 2)
    return next_gap(
        rt.timing.bounds,
        elapsed=now - rec.submitted_at_ts if rec.submitted_at_ts else 0.0,
        expected=rt.durations.expected(rec.account, mode_of(rec.params, rec.parent), rec.kind),
        progress=rec.progress,
        last_progress=rec.prev_progress,
        since_last_progress=(
            rec.last_progress_at - rec.prev_progress_at if rec.prev_progress_at else 0.0
        ),
        errors=errors_in_row,
    )


def schedule_poll(rt: Runtime, rec: JobRecord, seq: int, *, errors_in_row: int = 0) -> None:
    """Schedule fetch number `seq` of a job at the gap the polling policy chooses."""
    now = rt.clock()
    gap = poll_gap(rt, rec, now, errors_in_row=errors_in_row)
    rt.records.update(rec.job_id, next_poll_at=now + gap)
    rt.dispatcher.poll(rec.job_id, seq, gap, rec.account)


def timeout_s(rec: JobRecord) -> int:
    """TTAPI's timeout of the job: its own, else TTAPI's default for its (or its parent's) mode."""
    mode = mode_of(rec.params, rec.parent)
    default = RELAX_TIMEOUT_S if mode == "relax" else DEFAULT_TIMEOUT_S
    return int(rec.params.get("timeout") or default)


def deadline_for(rt: Runtime, rec: JobRecord, start: float) -> float:
    """When to give up on a job TTAPI started at `start`: its timeout, scaled, plus a grace."""
    return start + timeout_s(rec) * rt.timing.time_scale + rt.timing.deadline_grace_s
