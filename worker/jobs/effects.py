"""What a job step asks of the world, as data: steps return effects; the engine and the Celery
adapter carry them out.

A step (`submit.take_over`, `poll.poll`, `settle.settle`, `entry.run`, the pump ...) moves the
job's record and the account's guard itself: compare-and-sets and guard scripts are the state
it transitions. Everything else it wants done it returns, in order, as effects, and it calls
nothing up: the engine (`worker.engine`) turns submits, polls, fills and copies of the accounts
it holds into timers and those of other accounts into hints; the Celery adapter
(`worker.adapter.dispatch`) publishes reports and visible states and hints the engines; a task
run ends as its outcome says (`tasks.jobs`). The shape is h11's sans-I/O state machine
(`Connection` consumes events and says what to send; its caller sends) and "functional core,
imperative shell".

Each effect is a frozen dataclass with its `kind`, one member of `EffectKind`; an interpreter
carries one out through a table keyed by that kind, never by a string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from worker.ttapi import errors

if TYPE_CHECKING:
    from worker.jobs.record import JobRecord
    from worker.jobs.states import TaskState


class EffectKind(StrEnum):
    """What an effect asks for (the values show in logs)."""

    SUBMIT = "submit"  # submit a job just handed a slot on an account
    POLL = "poll"  # fetch a job (its poll step) after a delay
    FILL = "fill"  # hand an account's free places out after a delay
    STORE = "store"  # copy a finished job's files to the store
    REPORT = "report"  # run the job's task again: it reports its end, or goes on
    SHOW = "show"  # show the job's task state (WAITING, SUBMITTED) to its caller
    PARK = "park"  # a task run ends without a result (the job goes on from its record)
    DONE = "done"  # a task run returns the job result
    FAILED = "failed"  # a task run raises the job's failure
    REVOKED = "revoked"  # a task run ends REVOKED


# Carried out by the engine holding the account (from any other process: a hint to it).
ENGINE_KINDS = frozenset({EffectKind.SUBMIT, EffectKind.POLL, EffectKind.FILL, EffectKind.STORE})
# How a task run ends: carried out by the task itself (`tasks.jobs`).
OUTCOME_KINDS = frozenset({EffectKind.PARK, EffectKind.DONE, EffectKind.FAILED, EffectKind.REVOKED})


class Effect:
    """One thing a step asks for; `kind` says which (see `EffectKind`)."""

    kind: ClassVar[EffectKind]


@dataclass(frozen=True)
class Submit(Effect):
    """Submit `job_id`, handed a slot on `label`, in `delay_s` seconds (a retry's backoff)."""

    label: str
    job_id: str
    delay_s: float = 0.0
    kind: ClassVar[EffectKind] = EffectKind.SUBMIT


@dataclass(frozen=True)
class PollAt(Effect):
    """Fetch `job_id` (of `account`) at poll step `seq`, in `delay_s` seconds; `seq` drops
    stale duplicates. `known`: the record as the step that asks left it, which the engine
    keeps for that poll (it then reads nothing first; a poll that finds it stale reads)."""

    job_id: str
    seq: int
    delay_s: float
    account: str
    known: JobRecord | None = field(default=None, compare=False, repr=False)
    kind: ClassVar[EffectKind] = EffectKind.POLL


@dataclass(frozen=True)
class Fill(Effect):
    """Hand the free places of `label` out in `delay_s` seconds (after a cooldown, a probe's
    gap, or at once)."""

    label: str
    delay_s: float = 0.0
    kind: ClassVar[EffectKind] = EffectKind.FILL


@dataclass(frozen=True)
class Store(Effect):
    """Copy the files of `job_id`, a finished job of `account`, to the result store."""

    job_id: str
    account: str
    kind: ClassVar[EffectKind] = EffectKind.STORE


@dataclass(frozen=True)
class Report(Effect):
    """Re-publish the task of `job_id` (same id, chain and callbacks) in `delay_s` seconds: it
    reports the job's end, or runs again; `sig`, its stored signature when the step has it at
    hand (else it is read from the record). `ends`: the job has ended (it is owed to its
    caller), so its report may run where the effect is carried out, with no message."""

    job_id: str
    delay_s: float = 0.0
    sig: dict[str, Any] | None = None
    ends: bool = False
    kind: ClassVar[EffectKind] = EffectKind.REPORT

    @classmethod
    def end(cls, job_id: str, sig: dict[str, Any] | None = None) -> Report:
        """The report of a job that ended (owed to its caller), with its stored signature
        when the step has the record at hand."""
        return cls(job_id, sig=sig or None, ends=True)


@dataclass(frozen=True)
class ProgressNote:
    """A job's new progress for its record, carried with the state that shows it: `fields`
    (name/value pairs as the record stores them) land only while the record is SUBMITTED at
    poll step `seq` with a progress below `progress`, and the state shows only if they did
    (`worker.jobs.records.progress_note`)."""

    seq: int
    progress: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Show(Effect):
    """Show the task of `job_id` as `state` with `meta` to its caller (the result backend);
    with `event`, to monitors such as Flower too. With `note`, the job's record takes its
    progress in the same call, and nothing shows if it does not (a stale step)."""

    job_id: str
    state: TaskState
    meta: dict[str, Any]
    event: bool = True
    note: ProgressNote | None = None
    kind: ClassVar[EffectKind] = EffectKind.SHOW


@dataclass(frozen=True)
class Park(Effect):
    """The task run ends now without a result; the job goes on from its record, and its task
    is re-published when there is something to report."""

    kind: ClassVar[EffectKind] = EffectKind.PARK


@dataclass(frozen=True)
class Done(Effect):
    """The job finished: the task returns this result (and its chain goes on)."""

    result: dict[str, Any]
    kind: ClassVar[EffectKind] = EffectKind.DONE


@dataclass(frozen=True)
class Failed(Effect):
    """The job ended in failure: the task raises this exception."""

    error: errors.TTAPIError
    kind: ClassVar[EffectKind] = EffectKind.FAILED


@dataclass(frozen=True)
class Revoked(Effect):
    """The job was cancelled before any submit: the task ends REVOKED."""

    reason: str
    kind: ClassVar[EffectKind] = EffectKind.REVOKED


# What one run of a job's task comes to.
Outcome = Park | Done | Failed | Revoked
# What a step returns besides its answer: the effects to carry out, in order.
Effects = list[Effect]
# An interpreter: carries effects out, in order (`worker.adapter.dispatch`, the engine's shell).
CarryOut = Callable[[Effects], None]


__all__ = [
    "ENGINE_KINDS",
    "OUTCOME_KINDS",
    "CarryOut",
    "Done",
    "Effect",
    "EffectKind",
    "Effects",
    "Failed",
    "Fill",
    "Outcome",
    "Park",
    "PollAt",
    "Report",
    "Revoked",
    "Show",
    "Store",
    "Submit",
]
