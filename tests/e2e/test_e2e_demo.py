"""`mjw demo` runs the whole system and stops everything it started, also on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e


def start_demo(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # use the embedded Redis
    return subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "demo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )


def default_sigint() -> None:
    """A shell that runs us in the background ignores SIGINT; the child must not inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_runs_pipelines_to_the_end_and_stops_its_servers() -> None:
    proc = start_demo("--pipelines", "2", "--fast", "1")
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert "2 succeeded, 0 failed" in out
    assert out.count("upscale_creative") >= 2
    port = int(re.search(r"redis-server on redis://127.0.0.1:(\d+)", out).group(1))  # type: ignore[union-attr]
    assert not port_open(port)


def test_ctrl_c_stops_the_demo_and_everything_it_started() -> None:
    proc = start_demo("--pipelines", "4", "--fast", "5")
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "running 4 pipelines" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + out
    port = int(re.search(r"redis-server on redis://127.0.0.1:(\d+)", seen).group(1))  # type: ignore[union-attr]
    assert not port_open(port)
