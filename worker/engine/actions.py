"""What the engine does (`Action`, one `ActionKind` each), and the two things that run actions:
the `Scheduler` (when: the node's timers, or the tests' step heap) and the `Shell` (around each
action: it carries out the effects the action returns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from worker.jobs.effects import Effects


class ActionKind(StrEnum):
    """What the engine does (its timers' keys; the values show in logs)."""

    POLL = "poll"  # fetch one job (its poll step `seq`)
    SUBMIT = "submit"  # submit a job handed a slot on `label`
    FILL = "fill"  # hand an account's free slots out
    SCAN = "scan"  # look at an account's holders (every `stall_s`)
    TAKEOVER = "takeover"  # the same, at once, after taking the account over
    STORE = "store"  # copy a finished job's files (the storage pool's: worker.engine.storing)


@dataclass(frozen=True)
class Action:
    """One thing the engine does: its `kind`; `arg` the job id (poll, submit, store) or the
    account label; `label` the account of a job's slot (submit). A kind given by its value
    becomes the member (an unknown one is a ValueError)."""

    kind: ActionKind
    arg: str
    seq: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ActionKind(self.kind))


class Scheduler(Protocol):
    """Runs actions: now or after a delay (seconds), on whatever threads it has."""

    def later(self, action: Action, delay_s: float) -> None:
        """Perform `action` (through `EngineCore.perform`) in `delay_s` seconds."""

    def pending(self, kind: ActionKind, arg: str) -> bool:
        """Whether an action of `kind` on `arg` waits for its time."""


class Shell(Protocol):
    """Runs an engine's action and carries out the effects it returns, in order: the engine's
    own kinds through `EngineCore.carry`, the rest (reports, visible states) itself. The Celery
    adapter's dispatcher in a node's engine process; the step heap in the tests."""

    def run(self, step: Callable[[], Effects]) -> None:
        """Run `step` and carry out its effects."""


__all__ = ["Action", "ActionKind", "Scheduler", "Shell"]
