"""What the public port shows (the webhook path and `/healthz`, nothing else), and how fast the
private side answers when Redis is gone."""

from __future__ import annotations

import time
from pathlib import Path

import fakeredis
import pytest

from config.settings import Settings
from tests.support.wsgi import NullDispatcher, wsgi_get
from worker.cli.commands import COMMANDS
from worker.cli.parser import build_parser
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import Runtime, redis_client
from worker.ops.http import create_metrics_app
from worker.webhook.receiver import create_wsgi_app

KEY = "sk-exposure-key-0001"


def fake_runtime() -> Runtime:
    client = fakeredis.FakeRedis(decode_responses=True)
    return Runtime.build(Settings(ttapi_api_key=KEY), client, NullDispatcher())


def test_the_public_port_answers_404_to_metrics() -> None:
    app = create_wsgi_app(fake_runtime())
    status, _, body = wsgi_get(app, "/metrics")
    assert status == 404 and "mj_slots" not in body
    assert wsgi_get(app, "/healthz")[0] == 200


def test_mjw_metrics_serves_on_loopback_unless_told_otherwise() -> None:
    args = build_parser(COMMANDS).parse_args(["metrics", "--port", "0"])
    assert args.host == "127.0.0.1"


def test_metrics_answer_within_the_health_timeout_when_redis_is_down(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        settings = Settings(ttapi_api_key=KEY, redis_url=server.url, mj_health_timeout_s=1.0)
        rt = Runtime.build(settings, redis_client(server.url), NullDispatcher())
        app = create_metrics_app(rt)
        assert wsgi_get(app, "/metrics")[0] == 200
    finally:
        server.stop()
    started = time.monotonic()
    status, _, _ = wsgi_get(app, "/metrics")
    took = time.monotonic() - started
    assert status == 503
    assert took < 1.5, f"/metrics took {took:.1f}s with Redis down"


@pytest.mark.parametrize("path", ["/metrics", "/", "/api/overview"])
def test_the_public_port_serves_none_of_the_private_side(path: str) -> None:
    assert wsgi_get(create_wsgi_app(fake_runtime()), path)[0] == 404
