"""The CLI's error table, URL masking, connection reasons and argument errors, as tables."""

from __future__ import annotations

import socket
from importlib.metadata import version

import pytest
import redis
from kombu.exceptions import OperationalError

from config.settings import ConfigError
from worker.cli import commands as cli
from worker.cli.errors import ERRORS, Interrupted, JobError, UsageError, classify
from worker.cli.reach import RedisRefusedLogin, RedisUnreachable, mask_url, reason_for
from worker.ttapi.errors import InvalidRequest, JobFailed


def refused() -> redis.ConnectionError:
    """A redis-py connection error as raised: the OS error underneath is its context."""
    exc = redis.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
    exc.__context__ = ConnectionRefusedError(111, "Connection refused")
    return exc


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (UsageError("batch file not found: x"), 2, "batch file not found: x"),
        (
            ConfigError("TTAPI_API_KEY or TTAPI_API_KEYS: set"),
            2,
            "TTAPI_API_KEY or TTAPI_API_KEYS: set",
        ),
        (
            InvalidRequest("invalid request: prompt: too long"),
            2,
            "invalid request: prompt: too long",
        ),
        (
            RedisRefusedLogin("redis://:pw@h/0", "authentication failed"),
            2,
            "cannot reach Redis at redis://:***@h/0: authentication failed",
        ),
        (
            RedisUnreachable("redis://h:1/0", "connection refused"),
            1,
            "cannot reach Redis at redis://h:1/0: connection refused",
        ),
        (
            JobError("step 1 (imagine) FAILURE: JobFailed: [Banned]"),
            1,
            "step 1 (imagine) FAILURE: JobFailed: [Banned]",
        ),
        (refused(), 1, "lost the connection to Redis (REDIS_URL): connection refused"),
        (
            OperationalError("Error 111"),
            1,
            "lost the connection to Redis (REDIS_URL): no usable answer",
        ),
        (JobFailed("[Banned prompt detected]"), 1, "JobFailed: [Banned prompt detected]"),
        (
            FileNotFoundError(2, "No such file or directory", "out/x"),
            1,
            "No such file or directory: out/x",
        ),
        (
            Interrupted("interrupted: re-attach with: mjw wait abc"),
            130,
            "interrupted: re-attach with: mjw wait abc",
        ),
        (KeyboardInterrupt(), 130, "interrupted"),
        (
            RuntimeError("Retry limit exceeded\nwhile trying to reconnect"),
            1,
            "RuntimeError: Retry limit exceeded while trying to reconnect",
        ),
    ],
)
def test_each_error_class_has_one_exit_code_and_one_line(
    exc: BaseException, code: int, message: str
) -> None:
    assert classify(exc) == (code, message)


def test_the_error_table_lists_subclasses_before_their_bases() -> None:
    classes = [cls for cls, _, _ in ERRORS]
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, earlier) for earlier in classes[:i]), cls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://:s3cret@redis.example:6379/0", "redis://:***@redis.example:6379/0"),
        ("rediss://user:s3cret@redis.example/1", "rediss://user:***@redis.example/1"),
        (
            "redis://redis.example/0?password=s3cret&db=2",
            "redis://redis.example/0?password=***&db=2",
        ),
        ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
    ],
)
def test_a_redis_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "s3cret" not in mask_url(url)


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "unknown host"),
        (FileNotFoundError(2, "No such file"), "no such socket file"),
        (TimeoutError("timed out"), "no answer in time"),
        (OSError(101, "Network is unreachable"), "network error"),
    ],
)
def test_the_reason_comes_from_the_class_of_the_os_error_underneath(
    cause: OSError, reason: str
) -> None:
    exc = redis.ConnectionError("Error connecting")
    exc.__context__ = cause
    assert reason_for(exc) == reason
    assert reason_for(cause) == reason


def test_a_timeout_of_redis_itself_reads_as_no_answer() -> None:
    assert reason_for(redis.TimeoutError("Timeout reading from socket")) == "no answer in time"


def test_mjw_version_comes_from_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"mjw {version('mj-worker')}"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["submit"], "mjw submit: the following arguments are required: PROMPT"),
        (["submit", "a cat", "--mode", "warp"], "mjw submit: argument --mode: invalid choice"),
        (["wait"], "mjw wait: the following arguments are required: TASK_ID"),
        (["explode"], "mjw: argument COMMAND: invalid choice: 'explode'"),
        (["video", "https://x/y.png"], "mjw video: the following arguments are required: --pro"),
        (["video", "https://x/y.png", "--prompt", "p", "--batch", "3"], "mjw video: argument"),
        (["edit", "https://x/y.png"], "mjw edit: the following arguments are required: --prom"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_code_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(says), err


@pytest.mark.parametrize(
    "command",
    [
        "submit",
        "video",
        "edit",
        "wait",
        "batch",
        "status",
        "jobs",
        "show",
        "metrics",
        "simulator",
        "webhook",
        "web",
        "demo",
    ],
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main([command, "--help"])
    assert stop.value.code == 0
    assert f"usage: mjw {command}" in capsys.readouterr().out
