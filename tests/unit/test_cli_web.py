"""`mjw web`: one process, two sides: webhooks, a plain /healthz and the token-guarded HTTP API
on the public port, the operator page, /api/, /metrics and a detailed /healthz on the private
one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from worker.devtools.embedded import RedisServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def web(redis_server: RedisServer) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    argv = ["web", "--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        public = re.search(r"on (http://\S+/)hook", proc.stdout.readline())
        admin = re.search(r"on (http://\S+/) ", proc.stdout.readline())
        assert public and admin, proc.stderr.read() if proc.stderr else ""
        yield proc, public.group(1), admin.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_the_public_side_has_hooks_healthz_and_the_api_behind_tokens(
    web: tuple[subprocess.Popen[str], str, str],
) -> None:
    _, public, _ = web
    assert requests.get(public + "healthz", timeout=10).json() == {"ok": True}
    for path in ("metrics", "", "api/overview", "fragment"):
        assert requests.get(public + path, timeout=10).status_code == 404
    big = requests.post(public + "hook/" + "a" * 32, data=b"x" * 1_100_000, timeout=10)
    assert big.status_code == 413
    assert requests.get(public + "v1/jobs", timeout=10).status_code == 401
    spec = requests.get(public + "v1/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.1")


def test_the_private_side_has_the_page_metrics_and_detailed_health_until_sigterm(
    web: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, _, admin = web
    page = requests.get(admin, timeout=10)
    assert page.status_code == 200 and "<title>mj-worker</title>" in page.text
    assert "mj_workers" in requests.get(admin + "metrics", timeout=10).text
    health = requests.get(admin + "healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] in ("ok", "degraded")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
