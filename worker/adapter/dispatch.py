"""The Celery adapter's interpreter of effects (`worker.jobs.effects`): what job steps return
becomes re-published tasks (reports, runs after a pause), visible task states, and, from
processes that run no engine, hints to the engine holding an account.

One `CeleryDispatcher` per process: a task run, the webhook receiver, the pump and the HTTP
API carry out their steps' effects through it (`carry_out`); in a node's engine process it is
the shell every action runs in (`run`), handing the engine's own effects back to the engine
(`engine.carry`: timers there) and carrying out reports and states itself. There, the report
of a job that ended runs in place, through Celery's own tracer (`worker.adapter.report_here`):
its result is stored and its canvas goes on with no message through the broker.

A task re-published with a countdown carries an ETA on Redis's clock, not this host's: a
worker whose clock is off would otherwise hold every message it publishes for as long as it is
off. Polls, fills and submits are never messages: they are timers in the engine that holds the
account (`worker.engine`), asked for here with a hint when this process is not that engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from worker.adapter.report_here import ReportHere
from worker.adapter.task_states import PUBLISH_STATE, stored_state
from worker.jobs import hints
from worker.jobs.effects import (
    ENGINE_KINDS,
    Effect,
    EffectKind,
    Effects,
    PollAt,
    ProgressNote,
    Report,
    Show,
)

if TYPE_CHECKING:
    from config.settings import Settings
    from worker.engine.dispatch import EngineDispatch
    from worker.jobs.runtime import Runtime

log = logging.getLogger(__name__)


class AdapterApp(Protocol):
    """What the dispatcher needs of the Celery app (`worker.adapter.app.MJCelery` has it), so
    the app builds its dispatcher without the two modules importing each other."""

    mj_settings: Settings
    mj_hostname: str | None

    @property
    def runtime(self) -> Runtime: ...
    @property
    def amqp(self) -> Any: ...
    @property
    def backend(self) -> Any: ...
    @property
    def conf(self) -> Any: ...
    @property
    def events(self) -> Any: ...
    def connection_for_write(self) -> Any: ...
    def signature(self, *args: Any, **kwargs: Any) -> Any: ...


class CeleryDispatcher:
    """Carries out effects as Celery messages, result-backend states and hints.

    `rt` is the Runtime it serves (the app's own by default); events carry `hostname`, the
    worker node's name, so Flower credits them to the real worker. With `engine` (a node's
    engine process), the engine's own effects go back to it instead of becoming hints.
    """

    # How each kind of effect is carried out here (the engine's own: `_engine`).
    CARRIES: ClassVar[dict[EffectKind, Callable[[CeleryDispatcher, Any], None]]]

    def __init__(
        self,
        app: AdapterApp,
        rt: Runtime | None = None,
        hostname: str | None = None,
        engine: EngineDispatch | None = None,
    ) -> None:
        self.app = app
        self._rt = rt
        self.hostname = hostname
        self.engine = engine
        self._publish: Any = None
        self._ttl: int | None = None  # a stored state's expiry (s), read from the conf once
        self._here: ReportHere | None = None  # reports run in this process (the engine's)
        # kombu's producers and event dispatchers are not thread-safe, and the engine publishes
        # from many threads at once: each thread keeps its own (and its own connection).
        self._local = threading.local()

    @property
    def rt(self) -> Runtime:
        """The Runtime this dispatcher serves."""
        return self._rt if self._rt is not None else self.app.runtime

    def run(self, step: Callable[[], Effects]) -> None:
        """Run one action of the engine (the `worker.engine.actions.Shell` of its process) and
        carry out the effects it returns."""
        self.carry_out(step())

    def carry_out(self, effects: Effects) -> None:
        """Carry out `effects` in order; consecutive hints go out in one round trip.

        Reports that run in place go last: one is a few round trips and Celery's tracer, and
        the slot its job gave back (a `Submit` to the engine) must not wait behind it.
        """
        asks: list[tuple[str, str]] = []
        here: list[Report] = []
        try:
            for effect in effects:
                if effect.kind in ENGINE_KINDS and self.engine is None:
                    asks.append(self._ask(effect))
                    continue
                if isinstance(effect, Report) and self._in_place(effect):
                    here.append(effect)
                    continue
                self._push(asks)
                self.CARRIES[effect.kind](self, effect)
            self._push(asks)
        finally:  # an effect that failed does not hold back the reports of jobs that ended
            for report in here:
                if not self._report_here(report):
                    self._report(report)

    def _ask(self, effect: Effect) -> tuple[str, str]:
        """The account and the hint asking its engine for one of its effects."""
        if isinstance(effect, PollAt) and not effect.account:  # a poll of no account: its job's
            rec = self.rt.records.load(effect.job_id)
            if rec is None:
                return "", ""
            effect = replace(effect, account=rec.account)
        return hints.ask(effect, self.rt.clock())

    def _push(self, asks: list[tuple[str, str]]) -> None:
        """Send the hints gathered (one round trip), and forget them."""
        asks[:] = [(label, hint) for label, hint in asks if label]
        if not asks:
            return
        if len(asks) == 1:
            hints.push(self.rt.redis, self.rt.keys, asks[0][0], [asks[0][1]])
        else:
            pipe = self.rt.redis.pipeline(transaction=False)
            for label, hint in asks:
                hints.push(pipe, self.rt.keys, label, [hint])
            pipe.execute()
        asks.clear()

    def _engine(self, effect: Effect) -> None:
        assert self.engine is not None  # only reached in the engine's process
        self.engine.carry(effect)

    def _in_place(self, effect: Report) -> bool:
        """Whether this report runs here: a job that ended, reported at once, in the engine's
        process (elsewhere, and for a run after a pause, the task's message goes out)."""
        return effect.ends and effect.delay_s <= 0 and self.engine is not None

    def _report(self, effect: Report) -> None:
        self.resume(effect.job_id, effect.delay_s, sig=effect.sig)

    def _report_here(self, effect: Report) -> bool:
        """Report an ended job in this process (the engine's) with no message; False if it
        must go out as one after all (the message is the way every report can take)."""
        sig = effect.sig or self.rt.records.signature(effect.job_id)
        if not sig:
            return True  # nothing to report with (as `resume`)
        if self._here is None:
            hostname = self.hostname or self.app.mj_hostname or ""
            self._here = ReportHere(self.app, hostname, self.send_event)
        try:
            return self._here.report(effect.job_id, sig)
        except Exception:
            log.exception("job %s: its report failed here; publishing it", effect.job_id)
            return False

    def _show(self, effect: Show) -> None:
        self.publish_state(
            effect.job_id, effect.state, effect.meta, event=effect.event, note=effect.note
        )

    def _outcome(self, effect: Effect) -> None:
        raise TypeError(f"{effect!r} ends a task run: its task carries it out (tasks.jobs)")

    def producer(self) -> Any:
        """This thread's producer, kept: acquiring one from the pool for every message costs
        more than the message. Its publishes retry (and reconnect) per `PUBLISH_RETRY`."""
        producer = getattr(self._local, "producer", None)
        if producer is None:
            producer = self._local.producer = self.app.amqp.Producer(
                self.app.connection_for_write()
            )
        return producer

    def _eta(self, countdown: float) -> datetime | None:
        if countdown <= 0:
            return None
        return datetime.fromtimestamp(self.rt.clock() + countdown, UTC)

    def resume(
        self, job_id: str, countdown: float = 0.0, *, sig: dict[str, Any] | None = None
    ) -> None:
        """Re-publish a job's task from the signature stored in its record.

        Without the caller's `expires`: the job engine applies it itself (a job not submitted
        by then is revoked), while a job TTAPI already ran must still deliver its result.
        """
        stored = sig or self.rt.records.signature(job_id)
        if not stored:
            return
        task = self.app.signature(dict(stored))  # a copy: `stored` may be the caller's record's
        for option in ("expires", "queue", "exchange", "routing_key"):
            task.options.pop(option, None)
        # On the control queue: a report or a retry must not wait behind the backlog.
        task.apply_async(
            eta=self._eta(countdown),
            queue=self.app.mj_settings.mj_control_queue,
            producer=self.producer(),
        )

    def publish_state(
        self,
        job_id: str,
        state: str,
        meta: dict[str, Any],
        *,
        event: bool = True,
        note: ProgressNote | None = None,
    ) -> None:
        """Store a custom state where the caller's AsyncResult looks, unless the task ended.

        One script checks and writes, so a late progress update can never hide the SUCCESS,
        FAILURE or REVOKED that Celery already stored (a caller waiting on it would hang).
        With `note`, the same script first writes the job's progress to its record, and shows
        nothing if the record refused it (a stale poll step).
        """
        key, value = stored_state(self.app.backend, job_id, state, meta)
        if self._publish is None:
            self._publish = self.rt.redis.register_script(PUBLISH_STATE)
            expires = self.app.conf.result_expires  # Celery's, in seconds (0: for ever)
            self._ttl = int(
                expires.total_seconds() if isinstance(expires, timedelta) else expires or 0
            )
        keys: list[str] = [key]
        args: list[str | int] = [value, self._ttl or 0]
        if note is not None:
            more_keys, more_args = self.rt.records.note_call(job_id, note)
            keys, args = keys + more_keys, args + more_args
        if not int(self._publish(keys=keys, args=args)):
            return
        if event:  # Flower reads events, not the result backend: `task-waiting` shows WAITING
            self.send_event(f"task-{state.lower()}", uuid=job_id, **meta)

    def send_event(self, name: str, **fields: Any) -> None:
        """Send a task event (`task-waiting`, `task-succeeded` ...) for monitors such as Flower.

        Sent under the worker node's name only (a process that is no worker, such as the
        webhook receiver, sends none: it would show as a phantom worker). One event dispatcher
        per thread; while Redis is away it buffers instead of raising.
        """
        hostname = self.hostname or self.app.mj_hostname
        if not (self.app.conf.worker_send_task_events and hostname):
            return
        events = getattr(self._local, "events", None)
        if events is None:
            events = self._local.events = self.app.events.Dispatcher(
                self.app.connection_for_write(), hostname=hostname
            )
        events.send(name, **fields)


CeleryDispatcher.CARRIES = {
    **{kind: CeleryDispatcher._engine for kind in ENGINE_KINDS},
    EffectKind.REPORT: CeleryDispatcher._report,
    EffectKind.SHOW: CeleryDispatcher._show,
    EffectKind.PARK: CeleryDispatcher._outcome,
    EffectKind.DONE: CeleryDispatcher._outcome,
    EffectKind.FAILED: CeleryDispatcher._outcome,
    EffectKind.REVOKED: CeleryDispatcher._outcome,
}
