"""`mjw metrics`: the Prometheus text once, or /metrics and /healthz served on a port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from worker.cli import commands as cli
from worker.devtools.embedded import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def test_mjw_metrics_prints_every_metric_family_once(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert "# TYPE mj_jobs_total counter" in out
    assert "# TYPE mj_job_duration_seconds histogram" in out


def test_mjw_metrics_with_a_port_serves_until_sigterm(redis_server: RedisServer) -> None:
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "metrics", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("metrics on http://127.0.0.1:"), line
        url = line.removeprefix("metrics on ")
        assert "mj_jobs_total" in requests.get(url, timeout=10).text
        assert requests.get(url.replace("/metrics", "/healthz"), timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
