"""`mjw tokens create|list|revoke` against a real Redis: shown once, stored as a hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from worker.api.tokens import TokenStore, digest
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import redis_client
from worker.keys import KEYS

ROOT = Path(__file__).resolve().parents[2]


def mjw(redis_server: RedisServer, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "tokens", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_prints_the_token_once_and_redis_keeps_only_its_hash(
    redis_server: RedisServer,
) -> None:
    made = mjw(redis_server, "create", "web", "--name", "shop backend", "--json")
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert set(doc) == {"id", "tenant", "token", "webhook_secret"}
    assert doc["webhook_secret"].startswith("whsec_")
    client = redis_client(redis_server.url)
    dump = json.dumps({k: client.dump(k).hex() for k in client.keys("mj:api:*")})
    assert doc["token"] not in dump and digest(doc["token"]) in client.hget(
        KEYS.api_tokens, doc["id"]
    )
    store = TokenStore(client)
    found = store.authenticate(doc["token"])
    assert found is not None and found.tenant == "web"
    listed = mjw(redis_server, "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert any(r["id"] == doc["id"] and r["name"] == "shop backend" for r in rows)
    assert doc["token"] not in listed.stdout and doc["webhook_secret"] not in listed.stdout
    assert mjw(redis_server, "revoke", doc["id"]).returncode == 0
    assert store.authenticate(doc["token"]) is None


def test_a_bad_tenant_is_a_usage_error_before_redis(redis_server: RedisServer) -> None:
    bad = mjw(redis_server, "create", "no spaces")
    assert bad.returncode == 2 and "TENANT" in bad.stderr
    assert mjw(redis_server, "revoke", "tok_nope").returncode == 1
