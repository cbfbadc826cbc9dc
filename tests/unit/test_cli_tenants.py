"""`mjw status --tenants` against a real redis-server, with no TTAPI key."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from config.settings import Settings, account_label
from worker.cli import commands as cli
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import Runtime

KEY = "sk-cli-tenants-key-0001"
A = account_label(KEY)
TENANTS = '{"web": {"weight": 3, "max_in_progress": 4}}'


@pytest.fixture
def rt(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """A worker's view of one account with a `web` job holding its place, one waiting."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    for name, value in [("MJ_KEY_PREFIX", prefix), ("REDIS_URL", redis_server.url)]:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MJ_TENANTS", TENANTS)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    settings = Settings(ttapi_api_key=KEY, ttapi_max_in_progress=1, mj_key_prefix=prefix)
    assert "web" in settings.mj_tenants  # from MJ_TENANTS, as the worker's environment has it
    worker = Runtime.build(settings, client)
    return worker


def test_status_with_tenants_shows_each_tenants_jobs(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    book = rt.guard.book
    assert rt.guard.acquire(A, "web-1", line=book.line("web", "high", loose=True)).granted
    rt.guard.enqueue(A, "web-2", line=book.line("web", "high", loose=True))
    assert cli.main(["status", "--tenants", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    web = {t["tenant"]: t for t in doc["tenants"]}["web"]
    assert (web["in_progress"], web["waiting"], web["max_in_progress"]) == (1, 1, 4)
    assert cli.main(["status", "--tenants"]) == 0
    out = capsys.readouterr().out
    assert "tenants" in out and "1/4" in out
    assert cli.main(["status", "--json"]) == 0
    assert "tenants" not in json.loads(capsys.readouterr().out)
