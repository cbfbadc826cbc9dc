"""Log lines: plain text, or one JSON object per line (`MJ_LOG_FORMAT=json`); never a secret.

`configure_logging(settings, logger)` is called by the Celery app (signals `after_setup_logger`
and `after_setup_task_logger`, with the logger Celery set up) and by the web app (root logger).
In JSON mode each line has `timestamp` (ISO-8601 UTC), `level`, `logger`, `message`, plus what a
call passes via `extra` — by convention `job_id`, `task_id` (the job's own task), `account` (a
label) and `state`: one line per job transition (parked, submitted, ended) carries them — and
inside a Celery task its `task_id` (unless the call passed one) and `task_name`.

`RedactSecrets` is a safety net, not the rule: code never logs a key, but if one slips into a
message, an argument, an `extra` value or a traceback, the handler writes `[redacted]` instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import current_task
from pythonjsonlogger.json import JsonFormatter

from config.settings import Settings

REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EXTRA_FIELDS = ("job_id", "task_id", "account", "state")
_STANDARD = {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime"}


class RedactSecrets(logging.Filter):
    """Replaces every occurrence of a secret in a record by `[redacted]` (on a handler)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _leaks(self, text: str) -> bool:
        return any(secret in text for secret in self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place where it holds a secret; never drops it."""
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-args: logging reports it; check the parts
            message = f"{record.msg} {record.args}"
        if self._leaks(message):
            record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self._leaks(text):  # formatters then print the redacted text instead
                record.exc_info, record.exc_text = None, self.redact(text)
        if record.exc_text and self._leaks(record.exc_text):
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info and self._leaks(record.stack_info):
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str) and self._leaks(value):
                setattr(record, name, self.redact(value))
        return True


class TaskContext(logging.Filter):
    """Adds `task_id` and `task_name` to records logged inside a Celery task (JSON lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None) if task else None
        if request is not None and getattr(request, "id", None):
            record.__dict__.setdefault("task_id", request.id)
            record.__dict__.setdefault("task_name", task.name)
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line: timestamp first, then level, logger, message and extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Put an ISO-8601 UTC `timestamp` ahead of the other fields."""
        log_data["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)


def secrets_of(settings: Settings) -> list[str]:
    """Every value that must never reach a log: the API keys, the page's password, Redis's (on
    any part of a sentinel:// URL) and the sentinels' own."""
    found = [account.key.get_secret_value() for account in settings.accounts()]
    if settings.mj_admin_auth is not None:
        found.append(settings.mj_admin_auth.get_secret_value().partition(":")[2])
    target = settings.redis_target()
    if target.is_sentinel:
        passwords = [target.password, target.sentinel_password]
    else:
        try:
            passwords = [urlsplit(settings.redis_url).password]
        except ValueError:
            passwords = []
    return [*found, *(p for p in passwords if p)]


def configure_logging(
    settings: Settings, logger: logging.Logger | None = None, *, level: int = logging.INFO
) -> logging.Logger:
    """Set up `logger` (default: root) for `settings.mj_log_format`; safe to call again.

    A logger without handlers gets one on stderr at `level` (the web app); a logger Celery
    already set up keeps its handlers and level, with their formatter swapped in JSON mode.
    Every handler gets the `RedactSecrets` filter for the configured keys.
    """
    target = logger or logging.getLogger()
    if not target.handlers:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(logging.Formatter(TEXT_FORMAT))
        target.addHandler(stderr)
        target.setLevel(level)
    redact = RedactSecrets(secrets_of(settings))
    for handler in target.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets | TaskContext)]:
            handler.removeFilter(old)
        if settings.mj_log_format == "json":
            handler.setFormatter(JsonLines())
            handler.addFilter(TaskContext())
        handler.addFilter(redact)
    return target


__all__ = [
    "EXTRA_FIELDS",
    "REDACTED",
    "JsonLines",
    "RedactSecrets",
    "TaskContext",
    "configure_logging",
    "secrets_of",
]
