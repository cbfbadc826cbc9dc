"""Run the job engine in-process, without Celery: fakeredis, the simulator, and a step heap.

`InlineDispatcher` is the engine's `Dispatcher`: every message it is asked to publish becomes a
`Step` on a heap ordered by due time; `run_until` executes due steps one at a time (sleeping
until the next is due) until a predicate holds. It plays the part of the Celery worker:

- `resume(job_id)` → `advance(...)` again with the inputs of the job's first submission,
- `poll(job_id, seq)` → `completion.poll(rt, job_id, seq)`,
- `fill(label)` → `resume_all(rt, rt.guard.fill(label))`,
- and, every `pump_every` seconds, `maintenance.pump(rt)` (the beat schedule).

Every step that ran is kept in `ran`, and `drop` (a predicate on steps) lets a test lose
messages on purpose. A step that raises `Killed` (patch it into any engine function) dies
there, as a SIGKILLed worker would: the loop records it in `killed` and goes on. The final
`Outcome` (Done / Failed) of each job is kept in `outcomes`.

    sim = Simulator(SimConfig(keys=[KEY], fast_s=0.5)).start()
    eng = InlineEngine.build(sim.url, [KEY])
    eng.submit("imagine", {"prompt": "a cat", "mode": "fast"})
    assert eng.run_until(eng.all_done, timeout=10)
"""

from __future__ import annotations

import heapq
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import fakeredis

from config.settings import Settings
from worker.jobs import entry, maintenance
from worker.jobs import poll as completion
from worker.jobs.delivery import delivered
from worker.jobs.outcome import Done, Failed, Outcome, Revoked
from worker.jobs.settle import resume_all
from worker.jobs.submit import take_over
from worker.jobs.ticks import PollTicks, poll_ticks, run_tick
from worker.runtime import Runtime
from worker.ttapi import errors


class Killed(BaseException):
    """Raised by a patched engine function: the worker process dies on that line."""


@dataclass(frozen=True)
class Step:
    """One published message: `kind` is resume / poll / fill; `arg` the job id or label."""

    kind: str
    arg: str
    seq: int = 0


@dataclass
class Inputs:
    """What a job's task was called with (what Celery would redeliver)."""

    kind: str
    params: dict[str, Any]
    account: str | None = None
    parent: Any = None
    expires_at: float = 0.0


@dataclass
class InlineDispatcher:
    """A `Dispatcher` that keeps a heap of (due time, step) instead of publishing messages."""

    heap: list[tuple[float, int, Step]] = field(default_factory=list)
    ran: list[Step] = field(default_factory=list)
    drop: Callable[[Step], bool] = field(default=lambda step: False)
    states: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    ticks: PollTicks | None = None  # set: polls go out batched per account, as in a worker
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, step: Step, countdown: float = 0.0) -> None:
        """Publish `step` to run in `countdown` seconds (unless `drop` loses it)."""
        if self.drop(step):
            return
        heapq.heappush(self.heap, (time.monotonic() + max(countdown, 0.0), next(self._order), step))

    def resume(self, job_id: str, countdown: float = 0.0) -> None:
        """Re-run the parked task of `job_id`."""
        self.push(Step("resume", job_id), countdown)

    def poll(self, job_id: str, seq: int, countdown: float, account: str = "") -> None:
        """Poll `job_id` (step `seq`); batched into per-account ticks when `ticks` is set."""
        if self.ticks is None or not account:
            self.push(Step("poll", job_id, seq), countdown)
            return
        now = time.time()
        due_ms = self.ticks.schedule(account, job_id, seq, now + countdown, now)
        if due_ms is not None:
            self.push(Step("tick", account, due_ms), due_ms / 1000 - now)

    def fill(self, label: str, countdown: float) -> None:
        """Hand `label`'s free slots to its waiters."""
        self.push(Step("fill", label), countdown)

    def publish_state(self, job_id: str, state: str, meta: dict[str, Any]) -> None:
        """Keep the states a caller would have seen, in order."""
        self.states.setdefault(job_id, []).append((state, meta))

    def pending(self, kind: str, arg: str | None = None) -> list[Step]:
        """Steps of `kind` (for `arg`) waiting in the heap."""
        return [s for _, _, s in self.heap if s.kind == kind and arg in (None, s.arg)]


class InlineEngine:
    """A Runtime on fakeredis wired to an `InlineDispatcher`, plus the jobs it runs."""

    def __init__(self, rt: Runtime, dispatcher: InlineDispatcher) -> None:
        self.rt = rt
        self.dispatcher = dispatcher
        self.inputs: dict[str, Inputs] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.stored: dict[str, list[Outcome]] = {}  # every outcome stored, in order
        self.pump_every: float | None = None
        self.pumped: list[dict[str, int]] = []
        self.killed: list[Step] = []

    @classmethod
    def build(
        cls,
        base_url: str,
        keys: list[str],
        *,
        fast_s: float = 0.5,
        capacity: int = 10,
        handoff: bool = False,
        ticks: bool = False,
        **overrides: Any,
    ) -> InlineEngine:
        """An engine against the simulator at `base_url`, durations scaled to `fast_s`.

        `handoff`: the step that frees a slot submits the next waiter itself, as a Celery pool
        process does; otherwise it re-publishes the waiter (a `resume` step). `ticks`: polls
        are batched per account into `tick` steps, as the Celery dispatcher does.
        """
        values: dict[str, Any] = {
            "ttapi_api_keys": ",".join(keys),
            "ttapi_base_url": base_url,
            "ttapi_max_in_progress": capacity,
            "mj_poll_min_s": 0.02,
            "mj_poll_max_s": 0.2,
            "mj_time_scale": fast_s / 60,
            "mj_pump_interval_s": 0.2,
            "mj_reconcile_grace_s": 1.0,
            "mj_http_read_timeout_s": 5.0,
            "mj_hook_base_url": None,
            **overrides,
        }
        dispatcher = InlineDispatcher()
        rt = Runtime.build(
            Settings(**values), fakeredis.FakeRedis(decode_responses=True), dispatcher
        )
        if handoff:
            rt.handoff = partial(take_over, rt)
        if ticks:
            dispatcher.ticks = poll_ticks(rt)
        return cls(rt, dispatcher)

    # -- the task side -------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        account: str | None = None,
        parent: Any = None,
        job_id: str | None = None,
        expires_at: float = 0.0,
    ) -> str:
        """Deliver a new task message for a job now; returns its (task) id."""
        job_id = job_id or str(uuid.uuid4())
        self.inputs[job_id] = Inputs(kind, params, account, parent, expires_at)
        self.deliver(job_id)
        return job_id

    def imagine(self, prompt: str, **params: Any) -> str:
        """Shortcut: submit an imagine in fast mode."""
        return self.submit("imagine", {"prompt": prompt, "mode": "fast", **params})

    def deliver(self, job_id: str) -> Outcome:
        """Run the job's task once more (a first delivery, a redelivery or a resume)."""
        inp = self.inputs[job_id]
        try:
            outcome = entry.run(
                self.rt,
                job_id,
                inp.kind,
                inp.params,
                signature=lambda: {"job": job_id},
                account=inp.account,
                parent=inp.parent,
                expires_at=inp.expires_at,
            )
        except Exception as exc:  # Celery stores FAILURE (and fires the errbacks)
            outcome = Failed(errors.TTAPIError(f"{type(exc).__name__}: {exc}"))
        if isinstance(outcome, Done | Failed | Revoked):
            self.outcomes[job_id] = outcome
            self.stored.setdefault(job_id, []).append(outcome)
            delivered(self.rt, job_id)  # what the Celery task's after_return does
        return outcome

    def run(self, step: Step) -> None:
        """Execute one step as the Celery task of that name would (a `Killed` step just ends)."""
        self.dispatcher.ran.append(step)
        try:
            self._run(step)
        except Killed:
            self.killed.append(step)

    def _run(self, step: Step) -> None:
        if step.kind == "resume":
            if step.arg in self.inputs:
                self.deliver(step.arg)
        elif step.kind == "poll":
            completion.poll(self.rt, step.arg, step.seq)
        elif step.kind == "tick":
            ticks = self.dispatcher.ticks
            assert ticks is not None

            def next_tick(due: int, label: str = step.arg) -> None:
                self.dispatcher.push(Step("tick", label, due), due / 1000 - time.time())

            run_tick(
                ticks,
                step.arg,
                step.seq,
                time.time(),
                next_tick=next_tick,
                poll=partial(completion.poll, self.rt),
            )
        elif step.kind == "fill":
            resume_all(self.rt, self.rt.guard.fill(step.arg))
        else:
            raise ValueError(f"unknown step {step!r}")

    # -- the worker loop -----------------------------------------------------------------
    def run_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Run due steps (and the pump, if `pump_every`) until `predicate()`; False on timeout."""
        deadline = time.monotonic() + timeout
        next_pump = time.monotonic() + (self.pump_every or 0.0)
        heap = self.dispatcher.heap
        while not predicate():
            now = time.monotonic()
            if now > deadline:
                return False
            if self.pump_every is not None and now >= next_pump:
                self.pumped.append(maintenance.pump(self.rt))
                next_pump = now + self.pump_every
                continue
            if heap and heap[0][0] <= now:
                self.run(heapq.heappop(heap)[2])
                continue
            wake = min(deadline, heap[0][0] if heap else deadline)
            if self.pump_every is not None:
                wake = min(wake, next_pump)
            time.sleep(max(0.0, min(wake - now, 0.05)))
        return True

    # -- what tests look at --------------------------------------------------------------
    def all_done(self) -> bool:
        """Every submitted job has a final outcome."""
        return all(j in self.outcomes for j in self.inputs)

    def done(self, *job_ids: str) -> Callable[[], bool]:
        """A predicate: these jobs have final outcomes."""
        return lambda: all(j in self.outcomes for j in job_ids)

    def result(self, job_id: str) -> dict[str, Any]:
        """The job's result (AssertionError with the failure otherwise)."""
        outcome = self.outcomes.get(job_id)
        assert isinstance(outcome, Done), f"job {job_id}: {outcome!r}"
        return outcome.result

    def error(self, job_id: str) -> str:
        """The job's failure message (AssertionError if it did not fail)."""
        outcome = self.outcomes.get(job_id)
        assert isinstance(outcome, Failed), f"job {job_id}: {outcome!r}"
        return str(outcome.error)

    def state(self, job_id: str) -> str:
        """The job record's state ('' if there is none)."""
        rec = self.rt.records.load(job_id)
        return rec.state if rec else ""

    def holders(self, label: str) -> int:
        """Slots of `label` held in the guard right now."""
        return len(self.rt.guard.state(label).holders)

    def count(self, kind: str, arg: str | None = None) -> int:
        """How many steps of `kind` (for `arg`) have run."""
        return sum(1 for s in self.dispatcher.ran if s.kind == kind and arg in (None, s.arg))
