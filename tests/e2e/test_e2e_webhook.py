"""End to end with webhooks: the simulator calls our receiver, polling is only a safety net.

Real redis-server, simulator and `celery worker` subprocesses; the receiver runs in this test
process on a loopback port and wakes the workers through the real Celery dispatcher.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
import redis

from config.settings import Settings
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer, free_port
from worker.jobs.runtime import Runtime
from worker.webhook.receiver import create_wsgi_app

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-webhook-account-0001"
SAFETY_POLL_S = 5


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request (the simulator posts callbacks in parallel)."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def receiver_runtime(stack: Stack) -> Runtime:
    """The receiver's Runtime: the stack's settings (it publishes through the project's Celery
    app: `receiver`)."""
    values: dict[str, Any] = {name.lower(): value for name, value in stack.env.items()}
    settings = Settings(**values)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    return Runtime.build(settings, client)


class Hooked(Stack):
    """The stack, plus every answer body the receiver gave."""

    replies: list[dict[str, Any]]


def recording(app: WSGIApplication, replies: list[dict[str, Any]]) -> WSGIApplication:
    """`app`, keeping each JSON answer it gives."""

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = b"".join(app(environ, start_response))
        if body.startswith(b"{"):
            replies.append(json.loads(body))
        return [body]

    return wrapped


@contextmanager
def receiver(rt: Runtime, port: int, replies: list[dict[str, Any]]) -> Iterator[None]:
    """Serve the receiver on 127.0.0.1:`port` in a thread for the duration of the block."""
    server = ThreadingWSGIServer(("127.0.0.1", port), QuietHandler)
    from worker.adapter.app import app
    from worker.adapter.dispatch import CeleryDispatcher

    carry_out = CeleryDispatcher(app, rt).carry_out
    server.set_app(recording(create_wsgi_app(rt, carry_out), replies))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def hooked(redis_server: RedisServer, tmp_path: Path) -> Iterator[Hooked]:
    port = free_port()
    env = {
        "MJ_HOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "MJ_HOOK_SAFETY_POLL_S": str(SAFETY_POLL_S),
    }
    stack = Hooked(redis_server, tmp_path, keys=[KEY], capacity=10, fast_s=1.0, env=env)
    stack.replies = []
    try:
        with receiver(receiver_runtime(stack), port, stack.replies):
            stack.start()
            yield stack
    finally:
        stack.stop()


def test_ten_imagines_finish_through_their_callbacks_with_at_most_one_fetch_each(
    hooked: Hooked,
) -> None:
    results = [hooked.send("mj.imagine", f"a harbour at dusk, study {i}") for i in range(10)]
    done = [r.get(timeout=60) for r in results]
    assert all(d["status"] == "SUCCESS" and len(d["images"]) == 4 for d in done)
    jobs = hooked.sim.stats()["jobs"]
    assert len(jobs) == 10
    assert all(job["hook_delivered"] for job in jobs.values())
    assert max(job["fetches"] for job in jobs.values()) <= 1
    assert hooked.replies.count({"ok": True, "settled": True}) == 10
    assert hooked.holders(hooked.labels[0]) == 0


def test_jobs_whose_callbacks_are_all_lost_finish_through_the_safety_net_polling(
    hooked: Hooked,
) -> None:
    hooked.sim.set_faults(drop_callback_rate=1.0)
    results = [hooked.send("mj.imagine", f"a quiet meadow, study {i}") for i in range(3)]
    done = [r.get(timeout=60) for r in results]
    assert all(d["status"] == "SUCCESS" for d in done)
    jobs = hooked.sim.stats()["jobs"]
    assert not any(job["hook_delivered"] for job in jobs.values())
    assert hooked.replies == []
    assert all(job["hook_attempts"] >= 1 and job["fetches"] >= 1 for job in jobs.values())
    assert hooked.holders(hooked.labels[0]) == 0
