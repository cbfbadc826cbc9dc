"""The engine's threads on their own: an action stays pending until it ran, whatever the pool."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import fakeredis
import pytest
import redis

from config.settings import Settings
from worker.adapter import engine_process
from worker.engine import node as node_module
from worker.engine.core import Action
from worker.engine.ownership import Ownership
from worker.engine.timers import Timers
from worker.jobs.effects import ENGINE_KINDS
from worker.jobs.record import RecordState
from worker.jobs.runtime import Runtime

SUBMIT = Action("submit", "job-1", label="acct")


class HeldPool(Executor):
    """A pool whose every thread is busy: what it is handed waits until `run_all`."""

    def __init__(self) -> None:
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self.lock:
            self.queued.append((fn, args))
        return Future()

    def run_all(self) -> int:
        with self.lock:
            queued, self.queued = self.queued, []
        for fn, args in queued:
            fn(*args)
        return len(queued)


def wait_for(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return check()


@pytest.fixture
def held() -> Iterator[tuple[Timers, HeldPool, list[Action]]]:
    pool, done = HeldPool(), list[Action]()
    timers = Timers(pool, done.append)
    thread = threading.Thread(target=timers.run, daemon=True)
    thread.start()
    yield timers, pool, done
    timers.stop()
    thread.join(2)


def test_an_action_handed_to_a_busy_pool_stays_pending_and_is_not_queued_twice(
    held: tuple[Timers, HeldPool, list[Action]],
) -> None:
    timers, pool, done = held
    timers.later(SUBMIT, 0.0)
    assert wait_for(lambda: len(pool.queued) == 1)
    assert timers.pending("submit", "job-1")  # queued behind slow calls, not yet run
    timers.later(SUBMIT, 0.0)  # a scan or a hint asks again meanwhile
    time.sleep(0.05)
    assert len(pool.queued) == 1
    assert pool.run_all() == 1
    assert done == [SUBMIT] and not timers.pending("submit", "job-1")


def test_an_action_asked_for_while_it_runs_runs_once_more_after_never_beside_it() -> None:
    pool = HeldPool()
    running, release = threading.Event(), threading.Event()
    done: list[Action] = []

    def perform(action: Action) -> None:
        running.set()
        release.wait(2)
        done.append(action)

    timers = Timers(pool, perform)
    thread = threading.Thread(target=timers.run, daemon=True)
    thread.start()
    try:
        timers.later(SUBMIT, 0.0)
        assert wait_for(lambda: len(pool.queued) == 1)
        runner = threading.Thread(target=pool.run_all)
        runner.start()
        assert running.wait(2)
        timers.later(SUBMIT, 0.0)  # e.g. a fill handed the job a slot again while it runs
        time.sleep(0.05)
        assert pool.queued == [] and timers.pending("submit", "job-1")
        release.set()
        runner.join(2)
        assert wait_for(lambda: len(pool.queued) == 1)  # once more, now that it returned
        pool.run_all()
        assert done == [SUBMIT, SUBMIT] and not timers.pending("submit", "job-1")
    finally:
        release.set()
        timers.stop()
        thread.join(2)


# -- account leases --------------------------------------------------------------------------


class CountingRedis(fakeredis.FakeRedis):
    """fakeredis that counts round trips: each command sent alone, and each pipeline sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trips = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        send, immediate = pipe.execute, pipe.immediate_execute_command

        def at_once(*args: Any, **options: Any) -> Any:  # e.g. SCRIPT EXISTS before a pipeline
            self.trips += 1
            return immediate(*args, **options)

        def execute(*args: Any, **kwargs: Any) -> Any:
            self.trips += 1
            return send(*args, **kwargs)

        pipe.execute = execute  # type: ignore[method-assign]
        pipe.immediate_execute_command = at_once  # type: ignore[method-assign]
        return pipe


def test_an_engine_holding_many_accounts_renews_them_all_in_one_round_trip() -> None:
    keys = [f"sk-many-{i:04d}-key" for i in range(120)]
    client = CountingRedis(decode_responses=True)
    rt = Runtime.build(Settings(ttapi_api_keys=",".join(keys)), client)
    mine = Ownership(rt, "node-a", lease_s=60)
    taken, _ = mine.beat()
    assert len(taken) == 120
    client.trips = 0
    assert mine.beat() == ([], [])
    assert len(mine.held) == 120
    assert client.trips <= 5  # live engines, owners, renewals (+ SCRIPT EXISTS): not 1 a label


# -- a node's threads ------------------------------------------------------------------------


class Shell:
    """The node's shell: the engine's effects back to it, reports and states published nowhere."""

    def __init__(self, node: node_module.Node) -> None:
        self.node = node

    def run(self, step: Any) -> None:
        for effect in step():
            if effect.kind in ENGINE_KINDS:
                self.node.core.carry(effect)


@pytest.fixture
def on_fakeredis(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeServer:
    """Every Redis client a Node builds talks to one fakeredis server."""
    server = fakeredis.FakeServer()

    def client(target: Any, **_: Any) -> fakeredis.FakeRedis:
        return fakeredis.FakeRedis(server=server, decode_responses=True)

    fake = types.SimpleNamespace(
        Redis=types.SimpleNamespace(from_url=client), RedisError=redis.RedisError
    )
    monkeypatch.setattr(node_module, "redis_client", client)
    monkeypatch.setattr(node_module, "redis_for", client)
    monkeypatch.setattr(node_module, "redis", fake)
    return server


def running(node: node_module.Node) -> threading.Thread:
    thread = threading.Thread(target=node.run, args=(Shell(node),), daemon=True)
    thread.start()
    return thread


def test_a_job_in_flight_keeps_its_slot_while_every_engine_thread_is_busy(
    on_fakeredis: fakeredis.FakeServer,
) -> None:
    settings = Settings(ttapi_api_keys="sk-threads-0001", mj_engine_threads=1, mj_engine_lease_s=1)
    node = node_module.Node(settings, "node-a")
    rt, label = node.rt, node.rt.pool.labels[0]
    rt.records.create("job-1", RecordState.SUBMITTED, account=label, ttapi_job_id="tt-1")
    rt.guard.enqueue(label, "job-1")
    assert rt.guard.fill(label) == ["job-1"]
    rt.guard.hold(label, "job-1", 0.8)  # a lease nearly spent, as after a long job
    gate = threading.Event()
    node.pool.submit(gate.wait, 10)  # the one thread is stuck in a slow TTAPI call
    thread = running(node)
    try:
        assert wait_for(lambda: rt.guard.leases([label])[label]["job-1"] > 2000, 3)
    finally:
        gate.set()
        node.stop()
        thread.join(5)


def test_an_engine_thread_that_dies_stops_the_engine_so_its_worker_starts_it_again(
    on_fakeredis: fakeredis.FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(ttapi_api_keys="sk-threads-0001", mj_engine_lease_s=1)
    node = node_module.Node(settings, "node-a")

    def broken() -> tuple[list[str], list[str]]:
        raise ValueError("a bug, not Redis")

    monkeypatch.setattr(node.ownership, "beat", broken)
    thread = running(node)
    thread.join(5)
    assert not thread.is_alive()  # run() returned: the engine process exits...
    assert node.failed  # ...with an error, and the worker's bootstep starts it again
    assert engine_process.exit_code(node) == 1
