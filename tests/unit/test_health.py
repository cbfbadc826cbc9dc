"""`/healthz`: 200 `{"ok": true}` only while Redis answers PING, fast; else 503."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis

from config.settings import Settings
from tests.support.wsgi import no_effects, wsgi_get
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import Runtime
from worker.ops import health
from worker.webhook.receiver import create_wsgi_app


def healthz(rt: Runtime, method: str = "GET") -> tuple[int, str]:
    status, _, body = wsgi_get(create_wsgi_app(rt, no_effects), "/healthz", method)
    return status, body


def runtime_on(client: redis.Redis, **settings: Any) -> Runtime:
    return Runtime.build(Settings(ttapi_api_key="sk-health-1", **settings), client)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung Redis)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_healthz_is_200_ok_while_redis_answers_ping() -> None:
    status, body = healthz(runtime_on(fakeredis.FakeRedis(decode_responses=True)))
    assert (status, json.loads(body)) == (200, {"ok": True})


def test_healthz_is_503_when_redis_is_down_and_says_only_the_error_class() -> None:
    server = fakeredis.FakeServer()
    rt = runtime_on(fakeredis.FakeRedis(server=server, decode_responses=True))
    server.connected = False
    status, body = healthz(rt)
    assert (status, json.loads(body)) == (503, {"ok": False, "error": "redis: ConnectionError"})
    server.connected = True
    assert healthz(rt)[0] == 200


def test_healthz_takes_head_and_get_only() -> None:
    rt = runtime_on(fakeredis.FakeRedis(decode_responses=True))
    assert healthz(rt, "HEAD") == (200, "")
    assert healthz(rt, "POST")[0] == 405


def test_the_probe_gives_up_on_a_redis_that_never_answers_within_its_timeout(
    silent_port: int,
) -> None:
    app_client = redis.Redis(host="127.0.0.1", port=silent_port, decode_responses=True)
    probe = health.probe_client(app_client, 0.3)
    started = time.monotonic()
    status, body = health.check(probe)
    assert (status, body["ok"]) == (503, False)
    assert time.monotonic() - started < 1.5  # one try, no retries with back-off


def test_a_refused_connection_is_503_at_once() -> None:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()  # nobody listens there now
    started = time.monotonic()
    status, _ = health.check(health.probe_client(redis.Redis(port=number), 2.0))
    assert status == 503 and time.monotonic() - started < 1.5


def test_the_probe_talks_to_the_apps_server_with_its_timeouts(silent_port: int) -> None:
    app_client = redis.Redis.from_url(f"redis://127.0.0.1:{silent_port}/3", decode_responses=True)
    probe = health.probe_client(app_client, 0.25)
    kwargs = probe.connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"], kwargs["socket_timeout"]) == (silent_port, 3, 0.25)
    assert app_client.connection_pool.connection_kwargs.get("socket_timeout") != 0.25


def test_healthz_against_a_real_redis_server(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert healthz(runtime_on(client, redis_url=redis_server.url)) == (200, '{"ok": true}')
