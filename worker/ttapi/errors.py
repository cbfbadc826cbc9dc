"""The exception tree of mj-worker: every way a TTAPI call or a job can go wrong.

    TTAPIError                       anything TTAPI-related; `.message` is TTAPI's own words
    ├── RequestError                 no usable HTTP answer                    created: maybe
    │   ├── ConnectError             never reached TTAPI                      created: no
    │   ├── ReadTimeout              sent, no answer in time                  created: maybe
    │   └── ConnectionLost           connection reset/closed after sending    created: maybe
    ├── APIStatusError               TTAPI answered with an HTTP error status (`.status_code`)
    │   ├── BadRequest          400  bad parameters                            created: no
    │   ├── Unauthorized        401  wrong or inactive key                     created: no
    │   ├── InsufficientBalance 402  balance exhausted                         created: no
    │   ├── NotFound            404  wrong path or unknown job                 created: no
    │   ├── RateLimited         429  too frequent (`.retry_after`)             created: no
    │   ├── QueueFull           499  the account's in-progress queue is full   created: no
    │   └── ServerError         5xx  server error (TTAPI's, or a proxy's page)  created: maybe
    │       └── GatewayTimeout  504  TTAPI timed out                           created: maybe
    ├── EnvelopeFailed               HTTP 200 whose envelope says FAILED        created: no
    ├── ResponseError                body not as documented (HTML page, bad JSON) created: maybe
    ├── InvalidRequest               our own validation refused the request     created: no
    └── JobFailed                    TTAPI ran the job and reported FAILED (or it timed out)

`may_have_created` tells the job layer whether a *submit* that raised this may have created a job
at TTAPI (and so must be reconciled, never blindly resubmitted). Only an answer that proves no
job was created says no: TTAPI's own 4xx, a 200 whose envelope says FAILED, a connection never
made. Every 5xx may follow a created job: a proxy or load balancer in front of TTAPI answers
502/503/504 or an HTML page after TTAPI took the job, and TTAPI's own 500 may too.

Every exception is rebuilt from its message alone (`cls(message)`), so it survives Celery's
JSON result serialisation, and none ever carries an API key.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TTAPIError(Exception):
    """Base of every error mj-worker raises about TTAPI or a job; `str()` is the message."""

    may_have_created: ClassVar[bool] = False

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint: str | None = context.get("endpoint")
        self.status_code: int | None = context.get("status_code")

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__)


class RequestError(TTAPIError):
    """TTAPI gave no usable HTTP answer (network trouble); the request may have gone out."""

    may_have_created = True


class ConnectError(RequestError):
    """The connection was never made, so nothing was sent."""

    may_have_created = False


class ReadTimeout(RequestError):
    """The request was sent but the answer did not come in time."""

    may_have_created = True


class ConnectionLost(RequestError):
    """The connection broke after the request was sent (reset, closed, half an answer)."""

    may_have_created = True


class APIStatusError(TTAPIError):
    """TTAPI answered with an HTTP error status; `status_code` says which."""

    default_status: ClassVar[int] = 0

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message, **context)
        if self.status_code is None:
            self.status_code = self.default_status or None


class BadRequest(APIStatusError):
    """400: TTAPI refused the parameters; never retried."""

    default_status = 400


class Unauthorized(APIStatusError):
    """401: the key is wrong or inactive; the account leaves rotation."""

    default_status = 401


class InsufficientBalance(APIStatusError):
    """402: the account's balance is exhausted; no submits there until it returns."""

    default_status = 402


class NotFound(APIStatusError):
    """404: wrong path or unknown resource."""

    default_status = 404


class RateLimited(APIStatusError):
    """429: too many requests; back off (`retry_after` seconds when TTAPI said so) and retry."""

    default_status = 429

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after: float | None = context.get("retry_after")


class QueueFull(APIStatusError):
    """499: the account already runs its maximum of jobs; the job was not created."""

    default_status = 499


class ServerError(APIStatusError):
    """5xx: TTAPI (or a proxy in front of it) failed. A fetch is retried; a submit may have
    created the job, so it is reconciled first and resubmitted only if TTAPI has no such job."""

    default_status = 500
    may_have_created = True


class GatewayTimeout(ServerError):
    """504: TTAPI timed out; a submit may still have created the job."""

    default_status = 504


class EnvelopeFailed(TTAPIError):
    """HTTP 200 whose envelope says `status: FAILED`: TTAPI refused the call in its body."""


class ResponseError(TTAPIError):
    """The body was not what TTAPI documents (an HTML error page, truncated or odd JSON)."""

    may_have_created = True


class InvalidRequest(TTAPIError):
    """The request was refused before any HTTP call; the message names the field and the rule."""


class JobFailed(TTAPIError):
    """TTAPI reported the job FAILED (message in TTAPI's words), or it never finished in time."""


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: InsufficientBalance,
    404: NotFound,
    429: RateLimited,
    499: QueueFull,
    504: GatewayTimeout,
}


def error_for_status(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status (any other 5xx → ServerError)."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return BadRequest if 400 <= status < 500 else ServerError


def scrub(text: str, secrets: list[str]) -> str:
    """Return `text` with every secret in `secrets` replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
