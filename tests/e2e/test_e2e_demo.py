"""`mjw demo` runs the whole system and stops everything it started, also on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.signals import default_sigint

pytestmark = pytest.mark.e2e


ROOT = Path(__file__).resolve().parents[2]


def start_demo(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # use the embedded Redis
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "demo", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_runs_pipelines_to_the_end_saves_the_images_and_stops_its_servers(
    tmp_path: Path,
) -> None:
    proc = start_demo("--pipelines", "2", "--fast", "1", cwd=tmp_path)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert "3 succeeded, 0 failed" in out  # the 2 asked for, and the video pipeline
    assert out.count("upscale_creative") >= 2
    # The workers stored them: mj-demo/<yyyy>/<mm>/<dd>/<TTAPI job id>/main.png, video-1.mp4
    saved = sorted((tmp_path / "mj-demo").glob("*/*/*/*/main.png"))
    assert len(saved) == 2
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in saved)
    assert all((p.parent / "thumb" / "main.webp").is_file() for p in saved)
    clips = sorted((tmp_path / "mj-demo").glob("*/*/*/*/video-*.mp4"))
    assert len(clips) == 2 and all(c.read_bytes()[4:8] == b"ftyp" for c in clips)
    assert all(str(p) in out for p in [*saved, *clips])  # the paths are printed
    port = int(re.search(r"redis-server on redis://127.0.0.1:(\d+)", out).group(1))  # type: ignore[union-attr]
    assert not port_open(port)


def test_ctrl_c_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    proc = start_demo("--pipelines", "4", "--fast", "5", cwd=tmp_path)
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


def test_demo_keep_leaves_the_page_and_redis_up_until_ctrl_c(tmp_path: Path) -> None:
    proc = start_demo("--pipelines", "1", "--fast", "1", "--keep", cwd=tmp_path)
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 150
    while "Ctrl-C stops everything" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    page = re.search(r"open the operator page at (http://\S+/)", seen)
    redis_url = re.search(r"export REDIS_URL=(\S+)", seen)
    assert page and redis_url, seen
    assert "<title>mj-worker</title>" in requests.get(page.group(1), timeout=10).text
    status = subprocess.run(
        [sys.executable, "-m", "worker.cli", "status", "--json", "--no-info"],
        env={**os.environ, "REDIS_URL": redis_url.group(1), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["accounts"]) == 2
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, seen + out
    port = int(re.search(r"redis-server on redis://127.0.0.1:(\d+)", seen).group(1))  # type: ignore[union-attr]
    assert not port_open(port)
