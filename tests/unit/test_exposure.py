"""What the public port shows (the webhook path, `/healthz` and the token-guarded HTTP API under
`/v1/` and `/mj/`; never the page or `/metrics`), and how fast the private side answers when
Redis is gone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from tests.support.wsgi import no_effects, wsgi_get
from worker.cli.commands import COMMANDS
from worker.cli.parser import build_parser
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import Runtime, redis_client
from worker.ops.http import create_metrics_app
from worker.webhook.receiver import create_wsgi_app

KEY = "sk-exposure-key-0001"


def fake_runtime() -> Runtime:
    client = fakeredis.FakeRedis(decode_responses=True)
    return Runtime.build(Settings(ttapi_api_key=KEY), client)


def test_the_public_port_answers_404_to_metrics() -> None:
    app = create_wsgi_app(fake_runtime(), no_effects)
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
        rt = Runtime.build(settings, redis_client(server.url))
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
    assert wsgi_get(create_wsgi_app(fake_runtime(), no_effects), path)[0] == 404


def _public_side() -> TestClient:
    """The public side as `mjw web` builds it: the receiver, and the API behind tokens."""
    from a2wsgi import WSGIMiddleware

    from tests.support.api import FakeCelery
    from worker.api.app import create_api_app
    from worker.api.core import Api
    from worker.cli.web_servers import PublicSide

    rt = fake_runtime()
    hooks: Any = create_wsgi_app(rt, no_effects)
    side = PublicSide(WSGIMiddleware(hooks), create_api_app(Api.build(rt, FakeCelery())))
    return TestClient(side)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/some-id"),
        ("POST", "/v1/jobs"),
        ("POST", "/v1/jobs/some-id/cancel"),
        ("POST", "/mj/submit/imagine"),
        ("GET", "/mj/task/some-id/fetch"),
        ("POST", "/mj/task/list-by-condition"),
    ],
)
def test_the_public_port_serves_the_http_api_only_behind_tokens(method: str, path: str) -> None:
    reply = _public_side().request(method, path, json={})
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/metrics", "/", "/api/overview", "/fragment", "/docs"])
def test_the_public_side_with_the_api_still_hides_the_private_side(path: str) -> None:
    client = _public_side()
    assert client.get(path).status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/openapi.json").json()["openapi"].startswith("3.1")
