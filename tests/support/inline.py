"""Run the job engine in-process, without Celery: fakeredis, the simulator, and a step heap.

One `EngineCore` holds every account (as a node's engine would), and a heap of `Step`s plays
both Celery and the engine's threads: `run_until` executes due steps one at a time (sleeping
until the next is due) until a predicate holds. The engine plays the shell every step runs in
(`carry`): the engine's own effects go back to its core (timers: steps here), reports become
`resume` steps and visible states are kept, in order.

- `resume(job_id)` (a task re-published: a report, a run after a pause) → the task's run,
  `entry.run(...)` with the inputs of the job's first submission;
- `poll`, `submit`, `fill`, `scan`, `takeover` → `EngineCore.perform(...)`, what the engine's
  threads do; `store` → `StorePool.perform(...)` (with MJ_STORAGE_URL), its storage pool's;
- the engine's hints (the accounts' wake lists) are read before every step, as its hint
  thread would; every `scan_every` seconds each account is scanned, and every `pump_every`
  seconds `maintenance.pump(rt)` runs (the beat schedule).

Every step that ran is kept in `ran`, and `drop` (a predicate on steps) lets a test lose
messages on purpose. A step that raises `Killed` (patch it into any engine function) dies
there, as a SIGKILLed process would: the loop records it in `killed` and goes on. The final
`Outcome` of each job is kept in `outcomes`, and every outcome stored in `stored`.

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
from dataclasses import dataclass, field, replace
from typing import Any

import fakeredis

from config.settings import Settings
from worker.engine.core import Action, ActionKind, EngineCore
from worker.engine.storing import StorePool
from worker.jobs import entry, maintenance
from worker.jobs.delivery import delivered
from worker.jobs.effects import ENGINE_KINDS as ENGINE_EFFECTS
from worker.jobs.effects import Effect, Effects, Report, Show
from worker.jobs.outcome import Done, Failed, Outcome, Revoked
from worker.jobs.runtime import Runtime
from worker.storage.target import storage_for
from worker.ttapi import errors

ENGINE_KINDS = frozenset(EngineCore.PERFORMS)  # what the engine's threads do


class Killed(BaseException):
    """Raised by a patched engine function: the worker process dies on that line."""


@dataclass(frozen=True)
class Step:
    """One step: `kind` is resume (a task run) or an engine action (poll, submit, fill, scan,
    takeover); `arg` the job id or label; `label` the account of a submit's slot."""

    kind: str
    arg: str
    seq: int = 0
    label: str = ""


@dataclass
class Inputs:
    """What a job's task was called with (what Celery would redeliver)."""

    kind: str
    params: dict[str, Any]
    account: str | None = None
    parent: Any = None
    expires_at: float = 0.0
    tenant: str | None = None
    priority: str | None = None


@dataclass
class InlineDispatcher:
    """The step heap: Celery's messages (`resume`) and the engine's timers, in due order; also
    where reports and visible states go (`resume`, `publish_state`)."""

    heap: list[tuple[float, int, Step]] = field(default_factory=list)
    ran: list[Step] = field(default_factory=list)
    drop: Callable[[Step], bool] = field(default=lambda step: False)
    states: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, step: Step, countdown: float = 0.0) -> None:
        """Add `step` to run in `countdown` seconds (unless `drop` loses it)."""
        if self.drop(step):
            return
        heapq.heappush(self.heap, (time.monotonic() + max(countdown, 0.0), next(self._order), step))

    def resume(self, job_id: str, countdown: float = 0.0, *, sig: Any = None) -> None:
        """Re-run the task of `job_id` (a Celery message)."""
        self.push(Step("resume", job_id), countdown)

    def publish_state(
        self, job_id: str, state: str, meta: dict[str, Any], *, event: bool = True
    ) -> None:
        """Keep the states a caller would have seen, in order."""
        self.states.setdefault(job_id, []).append((state, meta))

    def pending(self, kind: str, arg: str | None = None) -> list[Step]:
        """Steps of `kind` (for `arg`) waiting in the heap."""
        return [s for _, _, s in self.heap if s.kind == kind and arg in (None, s.arg)]

    # -- the engine's Scheduler ----------------------------------------------------------
    def later(self, action: Action, delay_s: float) -> None:
        """The engine's timers: an action becomes a step; one already waiting keeps the
        earlier of the two times (as `worker.engine.timers.Timers` does)."""
        step = Step(action.kind, action.arg, action.seq, action.label)
        due = time.monotonic() + max(delay_s, 0.0)
        same = [entry for entry in self.heap if entry[2] == step]
        if same and min(entry[0] for entry in same) <= due:
            return
        if same:
            self.heap[:] = [entry for entry in self.heap if entry[2] != step]
            heapq.heapify(self.heap)
        self.push(step, delay_s)

    def is_pending(self, kind: str, arg: str) -> bool:
        """Whether an engine action of `kind` on `arg` waits."""
        return bool(self.pending(kind, arg))


class _Scheduler:
    """`InlineDispatcher` as the engine's Scheduler (its `pending` answers a bool)."""

    def __init__(self, heap: InlineDispatcher) -> None:
        self.heap = heap

    def later(self, action: Action, delay_s: float) -> None:
        self.heap.later(action, delay_s)

    def pending(self, kind: ActionKind, arg: str) -> bool:
        return self.heap.is_pending(kind, arg)


class InlineEngine:
    """A Runtime on fakeredis, one engine holding every account, and the jobs it runs."""

    def __init__(self, rt: Runtime, dispatcher: InlineDispatcher) -> None:
        self.dispatcher = dispatcher
        self.rt, self.core = self._engine_on(rt)
        self.inputs: dict[str, Inputs] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.stored: dict[str, list[Outcome]] = {}  # every outcome stored, in order
        self.pump_every: float | None = None
        self.scan_every: float | None = rt.timing.stall_s
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
        **overrides: Any,
    ) -> InlineEngine:
        """An engine against the simulator at `base_url`, durations scaled to `fast_s`."""
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
        rt = Runtime.build(Settings(**values), fakeredis.FakeRedis(decode_responses=True))
        return cls(rt, InlineDispatcher())

    def _engine_on(self, rt: Runtime) -> tuple[Runtime, EngineCore]:
        """An engine on `rt` that holds every account configured there."""
        storage = storage_for(rt.settings)  # with MJ_STORAGE_URL: its storage pool, as steps
        self.store = (
            StorePool(rt, storage, threads=1, scheduler=_Scheduler(self.dispatcher))
            if storage is not None
            else None
        )
        storer = self.store.soon if self.store is not None else None
        core = EngineCore(rt, _Scheduler(self.dispatcher), storer)
        for label in rt.pool.guard_labels:  # this engine holds every account (and video lane)
            rt.redis.set(rt.keys.owner(label), "inline")
            core.owned.add(label)
        return rt, core

    def restart(self, settings: Settings) -> None:
        """Every process restarted with `settings` (e.g. a key removed): the old engine's
        account leases lapse, and the new engine holds what is configured now."""
        for label in self.core.owned:
            self.rt.redis.delete(self.rt.keys.owner(label))
        self.rt, self.core = self._engine_on(Runtime.build(settings, self.rt.redis))

    def with_runtime(self, **changes: Any) -> None:
        """The node restarted on a Runtime with `changes` (a test's own timing, settings or
        replicas): a Runtime is never changed, its processes build another."""
        self.rt = replace(self.rt, **changes)
        self.core.rt = self.rt
        if self.store is not None:
            self.store.rt = self.rt

    # -- the shell: what carries effects out ---------------------------------------------
    def carry(self, effects: Effects) -> None:
        """Carry out `effects` in order, as a node's shell does: the engine's own through its
        core, reports as `resume` steps, visible states kept."""
        for effect in effects:
            self.carry_one(effect)

    def carry_one(self, effect: Effect) -> None:
        """Carry out one effect (see `carry`)."""
        if effect.kind in ENGINE_EFFECTS:
            self.core.carry(effect)
        elif isinstance(effect, Report):
            self.dispatcher.resume(effect.job_id, effect.delay_s, sig=effect.sig)
        elif isinstance(effect, Show):
            if effect.note is not None and not self.rt.records.note(effect.job_id, effect.note):
                return  # a stale step's progress: as the dispatcher's script, nothing shows
            self.dispatcher.publish_state(effect.job_id, effect.state, effect.meta)
        else:
            raise ValueError(f"not an effect to carry out here: {effect!r}")

    def pump(self) -> dict[str, int]:
        """One pump round, as the beat's `mj.pump` runs it: its effects carried out."""
        done, effects = maintenance.pump(self.rt)
        self.carry(effects)
        return done

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
        tenant: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Deliver a new task message for a job now; returns its (task) id."""
        job_id = job_id or str(uuid.uuid4())
        self.inputs[job_id] = Inputs(kind, params, account, parent, expires_at, tenant, priority)
        self.deliver(job_id)
        self.run_due()  # the engine acts at once on what the task queued
        return job_id

    def imagine(self, prompt: str, **params: Any) -> str:
        """Shortcut: submit an imagine in fast mode."""
        return self.submit("imagine", {"prompt": prompt, "mode": "fast", **params})

    def deliver(self, job_id: str) -> Outcome:
        """Run the job's task once more (a first delivery, a redelivery or a resume)."""
        inp = self.inputs[job_id]
        try:
            outcome, effects = entry.run(
                self.rt,
                job_id,
                inp.kind,
                inp.params,
                signature={"job": job_id},
                account=inp.account,
                parent=inp.parent,
                expires_at=inp.expires_at,
                tenant=inp.tenant,
                priority=inp.priority,
            )
            self.carry(effects)
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
        elif step.kind in ENGINE_KINDS:
            self.carry(self.core.perform(Action(step.kind, step.arg, step.seq, step.label)))
        elif step.kind == ActionKind.STORE and self.store is not None:
            self.carry(self.store.perform(Action(step.kind, step.arg)))
        else:
            raise ValueError(f"unknown step {step!r}")

    def read_hints(self) -> int:
        """What the engine's hint thread does: act on every account's hints now."""
        return sum(self.core.drain(label) for label in sorted(self.core.owned))

    def run_due(self, limit: int = 10_000) -> int:
        """Run the hints and the steps due now, until none is left; how many steps ran."""
        ran = 0
        while ran < limit:
            self.read_hints()
            heap = self.dispatcher.heap
            if not heap or heap[0][0] > time.monotonic():
                return ran
            self.run(heapq.heappop(heap)[2])
            ran += 1
        return ran

    # -- the worker loop -----------------------------------------------------------------
    def run_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Run due steps (hints first; the scans and the pump at their periods) until
        `predicate()`; False on timeout."""
        deadline = time.monotonic() + timeout
        next_pump = time.monotonic() + (self.pump_every or 0.0)
        next_scan = time.monotonic() + (self.scan_every or 0.0)
        heap = self.dispatcher.heap
        while not predicate():
            now = time.monotonic()
            if now > deadline:
                return False
            if self.pump_every is not None and now >= next_pump:
                self.pumped.append(self.pump())
                next_pump = now + self.pump_every
                continue
            if self.scan_every is not None and now >= next_scan:
                for label in sorted(self.core.owned):
                    self.dispatcher.push(Step("scan", label))
                next_scan = now + self.scan_every
            self.read_hints()
            if heap and heap[0][0] <= now:
                self.run(heapq.heappop(heap)[2])
                continue
            wake = min(deadline, heap[0][0] if heap else deadline)
            if self.pump_every is not None:
                wake = min(wake, next_pump)
            time.sleep(max(0.0, min(wake - now, 0.01)))
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
