"""How the command line ends on an error: one line on stderr and an exit code, by class.

    exit 2  usage or configuration   UsageError, ConfigError, InvalidRequest, RedisRefusedLogin
    exit 1  job or runtime           JobError, RedisUnreachable, Redis/broker connection lost,
                                     TTAPIError, OSError, anything else
    exit 130  Ctrl-C                 Interrupted (says how to re-attach), KeyboardInterrupt

`ERRORS` is the one table: the first row whose class matches the exception decides.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from kombu.exceptions import OperationalError

from config.settings import ConfigError
from worker.cli.reach import RedisRefusedLogin, RedisUnreachable, reason_for
from worker.ttapi.errors import InvalidRequest, TTAPIError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or input: exit code 2."""


class JobError(Exception):
    """A job ended in failure (or was not seen to end), or a runtime step failed: exit code 1."""


class Interrupted(Exception):
    """Ctrl-C while watching jobs that go on in the workers; the message says how to re-attach."""


def _plain(exc: BaseException) -> str:
    return str(exc)


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _lost_redis(exc: BaseException) -> str:
    return f"lost the connection to Redis (REDIS_URL): {reason_for(exc)}"


def _os_error(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


ERRORS: tuple[tuple[type[BaseException], int, Callable[[BaseException], str]], ...] = (
    (Interrupted, EXIT_INTERRUPTED, _plain),
    (KeyboardInterrupt, EXIT_INTERRUPTED, lambda _: "interrupted"),
    (UsageError, EXIT_USAGE, _plain),
    (ConfigError, EXIT_USAGE, _plain),
    (InvalidRequest, EXIT_USAGE, _plain),
    (RedisRefusedLogin, EXIT_USAGE, _plain),
    (RedisUnreachable, EXIT_ERROR, _plain),
    (JobError, EXIT_ERROR, _plain),
    (redis.ConnectionError, EXIT_ERROR, _lost_redis),
    (redis.TimeoutError, EXIT_ERROR, _lost_redis),
    (OperationalError, EXIT_ERROR, _lost_redis),
    (TTAPIError, EXIT_ERROR, _named),
    (OSError, EXIT_ERROR, _os_error),
    (BaseException, EXIT_ERROR, _named),
)


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for `exc`."""
    for cls, code, describe in ERRORS:
        if isinstance(exc, cls):
            return code, " ".join(describe(exc).split())
    raise AssertionError("unreachable: BaseException matches everything")  # pragma: no cover
