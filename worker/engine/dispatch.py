"""The engine's `Dispatcher`: polls and fills of its own accounts stay in the process (timers),
those of other accounts become hints to their engines; reports and visible states go through
Celery like everywhere else (the `publisher`)."""

from __future__ import annotations

from typing import Any

from worker.engine.core import Action, ActionKind, EngineCore
from worker.jobs import hints
from worker.jobs.runtime import Dispatcher


class EngineDispatcher:
    """Publishes job steps for the engine of one node; `core` is set once it is built."""

    def __init__(self, publisher: Dispatcher) -> None:
        self.publisher = publisher
        self.core: EngineCore | None = None

    def _core(self) -> EngineCore:
        if self.core is None:
            raise RuntimeError("EngineDispatcher used before its EngineCore was built")
        return self.core

    def resume(
        self, job_id: str, countdown: float = 0.0, *, sig: dict[str, Any] | None = None
    ) -> None:
        """Re-publish the job's task (its report, or a run after a pause): a Celery message."""
        self.publisher.resume(job_id, countdown, sig=sig)

    def poll(self, job_id: str, seq: int, countdown: float, account: str = "") -> None:
        """Fetch the job in `countdown` s: a timer here if this engine holds its account."""
        core = self._core()
        if account in core.owned or not account:
            core.scheduler.later(Action(ActionKind.POLL, job_id, seq), countdown)
            return
        rt = core.rt
        hints.ask_poll(rt.redis, rt.keys, account, job_id, seq, rt.clock() + countdown)

    def fill(self, label: str, countdown: float) -> None:
        """Hand the account's free slots out in `countdown` s (after a cooldown or a probe gap)."""
        core = self._core()
        if label in core.owned:
            core.scheduler.later(Action(ActionKind.FILL, label), countdown)
            return
        hints.ask_fill(core.rt.redis, core.rt.keys, label, core.rt.clock() + countdown)

    def publish_state(
        self, job_id: str, state: str, meta: dict[str, Any], *, event: bool = True
    ) -> None:
        """Show the job's state to its caller (the result backend, and an event for Flower)."""
        self.publisher.publish_state(job_id, state, meta, event=event)


__all__ = ["EngineDispatcher"]
