"""`mjw jobs`, `mjw show` and `mjw status --watch` against a running stack."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.opsdata import EngineCalls
from tests.support.signals import default_sigint
from tests.support.stack import Stack
from worker.keys import KEYS, Keys

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-ops-cli-0001"
ROOT = Path(__file__).resolve().parents[2]


def mjw(stack: Stack, *argv: str, **options: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in {**os.environ, **stack.env}.items() if not k.startswith("TTAPI_API")}
    return subprocess.Popen(  # no TTAPI key: these commands read Redis only
        [sys.executable, "-m", "worker.cli", *argv],
        env={**env, "COLUMNS": "200"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[call-overload]
    )


def test_jobs_show_and_status_watch_against_a_running_stack(
    make_stack: Callable[..., Stack],
) -> None:
    # Jobs of 8 s: the first must still run while two `mjw` processes start and list it (sent
    # together, either could run first, and one of 3 s sometimes ended between the listings).
    stack = make_stack(keys=[KEY], capacity=1, fast_s=8)
    with EngineCalls(stack.redis, Keys()):

        def state(job: object) -> str | None:
            return stack.redis.hget(KEYS.job(job.id), "state")  # type: ignore[attr-defined]

        running = stack.send("mj.imagine", "a slow lantern")
        stack.wait_for(lambda: state(running) == "SUBMITTED")
        waiting = stack.send("mj.imagine", "a heron")
        stack.wait_for(lambda: state(waiting) == "WAITING")
        out, err = mjw(stack, "jobs", "--waiting", "--json").communicate(timeout=30)
        assert [(j["job_id"], j["position"]) for j in json.loads(out)] == [(waiting.id, 1)], err
        out, _ = mjw(stack, "jobs", "--active", "--json").communicate(timeout=30)
        assert [j["job_id"] for j in json.loads(out)] == [running.id]

        waiting.get(timeout=60)
        out, err = mjw(stack, "show", waiting.id).communicate(timeout=30)
        assert "SUCCESS" in out and "/_sim/images/" in out and "waiting_since" in out, err

        screen = watch_status(stack, seconds=4)
        assert screen.count(stack.labels[0]) >= 3, screen  # redrawn in place, again and again
        assert "\x1b[" in screen  # cursor moves: in place, not appended
        assert "status: ok" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def watch_status(stack: Stack, seconds: float) -> str:
    """`mjw status --watch` on a pseudo-terminal for `seconds`, then Ctrl-C; what it drew."""
    import pty

    main, child = pty.openpty()
    env = {k: v for k, v in {**os.environ, **stack.env}.items() if not k.startswith("TTAPI_API")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "status", "--watch", "--interval", "0.3"],
        env={**env, "COLUMNS": "200", "LINES": "60", "TERM": "xterm"},
        cwd=ROOT,
        stdin=child,
        stdout=child,
        stderr=child,
        preexec_fn=default_sigint,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                seen += os.read(main, 65536)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    return seen.decode(errors="replace")
