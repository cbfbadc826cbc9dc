"""Log lines: JSON objects with `MJ_LOG_FORMAT=json`, and never a key, whatever the call passes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from celery import Celery

from config.settings import ConfigError, Settings, load_settings
from worker.adapter.logs import EXTRA_FIELDS, REDACTED, RedactSecrets, configure_logging

KEY_A, KEY_B = "sk-logs-key-one-1111", "sk-logs-key-two-2222"
REDIS_PASSWORD = "redis-pass-7777"


def settings(log_format: str = "text") -> Settings:
    return Settings(
        ttapi_api_keys=f"{KEY_A},{KEY_B}",
        mj_log_format=log_format,
        redis_url=f"redis://default:{REDIS_PASSWORD}@127.0.0.1:1/0",
    )


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own with one handler writing to a buffer, as Celery sets them up."""
    logger = logging.getLogger("tests.logs.captured")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_mj_log_format_is_text_by_default_and_takes_json_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().mj_log_format == "text"
    monkeypatch.setenv("MJ_LOG_FORMAT", "JSON")
    assert load_settings().mj_log_format == "json"
    monkeypatch.setenv("MJ_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="MJ_LOG_FORMAT"):
        load_settings()


def test_json_format_writes_one_object_per_line_with_the_extras_a_call_passes(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    configure_logging(settings("json"), logger)
    logger.info(
        "job %s submitted",
        "job-1",
        extra={"job_id": "job-1", "account": "acct-1234abcd", "state": "SUBMITTED"},
    )
    logger.warning("two\nlines")
    first, second = (json.loads(line) for line in lines(buffer))
    assert list(first)[:4] == ["timestamp", "level", "logger", "message"]
    assert first["level"] == "INFO" and first["logger"] == "tests.logs.captured"
    assert first["message"] == "job job-1 submitted"
    assert (first["job_id"], first["account"], first["state"]) == (
        "job-1",
        "acct-1234abcd",
        "SUBMITTED",
    )
    assert datetime.fromisoformat(first["timestamp"]).utcoffset().total_seconds() == 0
    assert second["message"] == "two\nlines"  # still one line of output


def test_text_format_keeps_the_formatter_the_process_already_has(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    configure_logging(settings("text"), logger)
    logger.info("plain %d", 1)
    assert lines(buffer) == ["INFO plain 1"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_key_never_reaches_a_log_line_wherever_it_slips_in(
    captured: tuple[logging.Logger, io.StringIO],
    log_format: str,
) -> None:
    logger, buffer = captured
    configure_logging(settings(log_format), logger)
    logger.info(f"in the message {KEY_A}")
    logger.info("in an argument %s", KEY_B)
    logger.info("in an extra", extra={"account": KEY_A})
    logger.info("in a dict argument %s", {"key": KEY_B})
    try:
        raise RuntimeError(f"401 for key {KEY_A}")
    except RuntimeError:
        logger.exception("in a traceback")
    logger.info("in the Redis URL redis://default:%s@host", REDIS_PASSWORD)
    logger.info("bad args %s %s", KEY_A)  # a formatting error must not leak it either
    text = buffer.getvalue()
    for secret in (KEY_A, KEY_B, REDIS_PASSWORD):
        assert secret not in text
    assert text.count(REDACTED) >= (6 if log_format == "text" else 7)  # text shows no extras
    assert "RuntimeError" in text  # the traceback is still there, redacted


def test_a_record_without_secrets_is_left_as_it_was() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "job %s", ("j-1",), None)
    assert RedactSecrets([KEY_A]).filter(record)
    assert (record.msg, record.args) == ("job %s", ("j-1",))


def test_a_longer_secret_that_contains_a_shorter_one_is_redacted_whole() -> None:
    redact = RedactSecrets(["abc", "abcdef-long"])
    assert redact.redact("x abcdef-long y abc") == f"x {REDACTED} y {REDACTED}"


def test_configuring_twice_keeps_one_redaction_filter_per_handler(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, _ = captured
    configure_logging(settings("json"), logger)
    configure_logging(settings("json"), logger)
    for handler in logger.handlers:
        assert sum(isinstance(f, RedactSecrets) for f in handler.filters) == 1


def test_a_logger_without_handlers_gets_one_on_stderr_at_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("tests.logs.bare")
    logger.propagate = False
    try:
        configure_logging(settings("json"), logger)
        logger.info("hello %s", KEY_A)
        logger.debug("not shown")
        err = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["message"] for line in err] == [f"hello {REDACTED}"]
    finally:
        logger.handlers.clear()


def test_inside_a_celery_task_json_lines_carry_the_task_id_and_name(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    configure_logging(settings("json"), logger)
    app = Celery("logs-test", set_as_current=False)

    @app.task(name="mj.test_logs")
    def work() -> None:
        logger.info("inside")

    work.apply(task_id="task-123")
    logger.info("outside")
    inside, outside = (json.loads(line) for line in lines(buffer))
    assert (inside["task_id"], inside["task_name"]) == ("task-123", "mj.test_logs")
    assert "task_id" not in outside


def test_a_job_transition_line_carries_its_job_task_and_account_as_json_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """Each transition is logged with these extras, often from another job's task (a report,
    a hand-off): the job's own task id wins over the running task's."""
    logger, buffer = captured
    configure_logging(settings("json"), logger)
    app = Celery("logs-test", set_as_current=False)
    job = {"job_id": "job-9", "task_id": "job-9", "account": "acct-1234abcd"}

    @app.task(name="logs-test.other-job")
    def other_job() -> None:
        logger.info("job ended SUCCESS in 42.0s", extra=job)

    other_job.apply(task_id="other-1")
    logger.info("job parked", extra=job)
    ended, parked = (json.loads(line) for line in lines(buffer))
    for line in (ended, parked):
        assert {k: line[k] for k in job} == job
    assert ended["task_name"] == "logs-test.other-job"
    assert "task_name" not in parked
    assert {"job_id", "task_id", "account"} <= set(EXTRA_FIELDS)


def test_extra_field_values_are_kept_as_json_types(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    configure_logging(settings("json"), logger)
    extra: dict[str, Any] = {"job_id": "j", "progress": 42}
    logger.info("progress", extra=extra)
    assert json.loads(lines(buffer)[0])["progress"] == 42


def test_the_passwords_of_a_sentinel_url_and_of_the_sentinels_never_reach_a_log(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    behind = Settings(
        redis_url=f"sentinel://h1:26379;sentinel://:{REDIS_PASSWORD}@h2:26379/0",
        mj_redis_sentinel_password="sentinels-own-8888",
    )
    configure_logging(behind, logger)
    logger.warning("cannot reach %s with %s", behind.redis_url, "sentinels-own-8888")
    assert REDIS_PASSWORD not in buffer.getvalue()
    assert "sentinels-own-8888" not in buffer.getvalue()
