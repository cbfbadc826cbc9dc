"""Every `mjw` command that needs Redis says within seconds that it cannot reach it.

Before: Celery's clients retried a dead Redis for about 20 s and ended with a multi-line
RuntimeError. Now: one PING with 2 s socket timeouts, one line, the password masked, exit 1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.cli.reach import RedisUnreachable, check_redis
from worker.devtools.embedded import RedisServer, free_port, redis_server_binary

ROOT = Path(__file__).resolve().parents[2]


def mjw(*args: str, redis_url: str, cwd: Path) -> tuple[int, str, str, float]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TTAPI_API_KEY": "sk-cli-redis-check-0001",
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose server accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server that requires a password (`s3cret`); its URL without the password."""
    port = free_port()
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--requirepass",
            "s3cret",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                check_redis(url.replace("redis://", "redis://:s3cret@"), timeout=0.5)
                break
            except RedisUnreachable:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.02)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["submit", "a cat"],
        ["submit", "a cat", "--wait"],
        ["wait", "0" * 36],
        ["batch", "batch.txt"],
        ["status"],
        ["jobs"],
        ["show", "some-job"],
        ["metrics"],
        ["webhook", "--port", "0"],
        ["web", "--port", "0", "--admin", "127.0.0.1:0"],
        ["demo"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_command_that_needs_redis_says_in_one_line_it_cannot_reach_it(
    argv: list[str], tmp_path: Path
) -> None:
    (tmp_path / "batch.txt").write_text("a cat\n")
    port = free_port()
    code, out, err, took = mjw(*argv, redis_url=f"redis://:s3cret@127.0.0.1:{port}/0", cwd=tmp_path)
    assert code == 1, err
    assert err.splitlines() == [
        f"mjw {argv[0]}: cannot reach Redis at redis://:***@127.0.0.1:{port}/0: connection refused"
    ]
    assert out == ""
    assert "s3cret" not in err
    assert took < 8, took  # interpreter start-up plus one refused connection, not 20 s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.txt"]  # no journal written


@pytest.mark.slow
def test_a_redis_that_never_answers_is_given_up_after_two_seconds(
    silent_port: int, tmp_path: Path
) -> None:
    code, _, err, took = mjw(
        "submit", "a cat", redis_url=f"redis://127.0.0.1:{silent_port}/0", cwd=tmp_path
    )
    assert code == 1, err
    assert err.splitlines() == [
        f"mjw submit: cannot reach Redis at redis://127.0.0.1:{silent_port}/0: no answer in time"
    ]
    assert took < 9, took


def test_the_check_itself_gives_up_within_its_timeout(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(RedisUnreachable, match="no answer in time"):
        check_redis(f"redis://127.0.0.1:{silent_port}/0", timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_a_wrong_password_is_a_configuration_error_with_exit_code_2(
    locked_redis: str, tmp_path: Path
) -> None:
    url = locked_redis.replace("redis://", "redis://:not-the-password@")
    code, _, err, _ = mjw("status", redis_url=url, cwd=tmp_path)
    assert code == 2, err
    assert err.splitlines() == [
        f"mjw status: cannot reach Redis at {locked_redis.replace('redis://', 'redis://:***@')}: "
        "authentication failed (check the password in REDIS_URL)"
    ]
    assert "not-the-password" not in err


def test_a_reachable_redis_passes_the_check(redis_server: RedisServer) -> None:
    check_redis(redis_server.url)
