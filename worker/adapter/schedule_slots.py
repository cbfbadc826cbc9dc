"""When a user schedule's run was due, so that two beats agree on which run is which.

A rolling redeploy of beat runs two beats for a while (and an operator may start two by
mistake): each sends every run of every entry. The pipeline's task ids therefore come from
the entry's name and the time the run was due (`run_id`), not from the random id of the
`mj.run_schedule` message: both beats' messages publish the same task ids, and the job
records, keyed by task id, pay for each run once.

- `SlotScheduler` (beat's scheduler, `beat_scheduler`) passes that time as `scheduled_at`;
- `aligned` makes an `every` entry fall due at whole multiples of its period since the epoch
  (UTC), so two beats started at different times fall due at the same instants (a cron entry
  does already).
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab, schedstate, schedule

RUN_TASK = "mj.run_schedule"


class aligned(schedule):
    """Every `seconds`, at whole multiples of it since the epoch: due at the first such
    instant after the entry's last run, whenever its beat started."""

    def __init__(self, seconds: float, nowfun: Any = None, app: Any = None) -> None:
        super().__init__(timedelta(seconds=seconds), nowfun=nowfun, app=app)

    def next_after(self, when: datetime) -> datetime:
        """The first multiple of the period strictly after `when`."""
        every = self.run_every.total_seconds()
        stamp = self.maybe_make_aware(when).timestamp()
        return datetime.fromtimestamp((math.floor(stamp / every) + 1) * every, UTC)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time left until the run due after `last_run_at` (negative: overdue)."""
        return self.next_after(last_run_at) - self.maybe_make_aware(self.now())

    def is_due(self, last_run_at: datetime) -> schedstate:
        """(due now, seconds until the next check), as Celery's schedules answer."""
        left = self.remaining_estimate(last_run_at).total_seconds()
        if left > 0:
            return schedstate(is_due=False, next=left)
        now = self.maybe_make_aware(self.now())
        return schedstate(is_due=True, next=(self.next_after(now) - now).total_seconds())

    def __reduce__(self) -> Any:
        return self.__class__, (self.run_every.total_seconds(), self.nowfun)

    def __repr__(self) -> str:
        return f"<aligned: every {self.run_every.total_seconds():g}s>"


def due_at(sched: Any, last_run_at: datetime) -> datetime:
    """When the run that falls due after `last_run_at` was due, by the entry's schedule."""
    if isinstance(sched, aligned):
        return sched.next_after(last_run_at)
    if isinstance(sched, crontab):
        start, delta, _ = sched.remaining_delta(last_run_at)
        return start + delta
    every = getattr(sched, "run_every", None)
    return last_run_at + every if isinstance(every, timedelta) else last_run_at


def scheduled_at(when: datetime) -> str:
    """The due time as it travels in the message (UTC, to the millisecond)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def run_id(prefix: str, name: str, when: str) -> str:
    """The id of one run of the entry `name` due at `when` (`scheduled_at`'s text), the same
    from any beat; `prefix` (MJ_KEY_PREFIX) keeps two deployments' runs apart."""
    return f"{prefix}:schedule:{name}@{when}"


class SlotScheduler(PersistentScheduler):
    """Celery beat's own scheduler, passing every `mj.run_schedule` the time its run was due.

    It also never waits less than nothing. Celery wakes 10 ms before a run is due (`adjust`'s
    drift), finds it not due yet, and then, with less than 10 ms left, computes a wait of zero
    or less: beat ticks without sleeping until the run is due, about 10 ms of CPU per run
    (with `MJ_PUMP_INTERVAL_S=0.5`, 2 % of a core). Here a wait the drift would end before it
    starts is waited in full: the run still goes out when it is due, not before.
    """

    def adjust(self, n: Any, drift: float = -0.010) -> Any:
        """`n` seconds until a run, less Celery's drift while that leaves a wait; else `n`."""
        if n and n > 0 and n + drift > 0:
            return n + drift
        return n

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        """Send the entry's task, with `scheduled_at` for a user schedule's run."""
        if entry.task != RUN_TASK:
            return super().apply_async(entry, producer, advance, **kwargs)
        due = due_at(entry.schedule, entry.last_run_at)  # as it was before this run
        if advance:
            self.reserve(entry)
        sent = copy.copy(entry)
        sent.kwargs = {**entry.kwargs, "scheduled_at": scheduled_at(due)}
        return super().apply_async(sent, producer, advance=False, **kwargs)


__all__ = ["RUN_TASK", "SlotScheduler", "aligned", "due_at", "run_id", "scheduled_at"]
