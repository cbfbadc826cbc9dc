"""What the client makes of an HTTP answer that is not the happy path: parsing helpers.

A body not as documented becomes a `ResponseError` (never a pydantic error), a failed request
its place in the exception tree, an HTML error page its `<title>`. The client
(`worker.ttapi.client`) calls these; they know nothing of accounts or keys.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from urllib3 import exceptions as http

from worker.ttapi import errors

_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
M = TypeVar("M", bound=BaseModel)


def parsed(model: type[M], data: Any, endpoint: str) -> M:
    """`data` as `model`; a body not as documented is a ResponseError, never a pydantic error
    (the job layer decides on TTAPIError alone: a submit's odd answer is reconciled)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise odd_body(endpoint, exc) from None


def odd_body(endpoint: str, exc: ValidationError) -> errors.ResponseError:
    """The ResponseError for a body that failed validation (locations only, never values)."""
    where = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()[:3])
    return errors.ResponseError(
        f"{endpoint}: the answer is not as documented ({where})",
        endpoint=endpoint,
        status_code=200,
    )


def never_connected(exc: BaseException) -> bool:
    """True when the connection was never made (so the request was never sent)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(
            cause,
            http.NewConnectionError
            | http.ConnectTimeoutError
            | http.NameResolutionError
            | ConnectionRefusedError,
        ):
            return True
        reason = getattr(cause, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cause.args and isinstance(cause.args[0], BaseException):
            nxt = cause.args[0]
        cause = nxt or cause.__cause__ or cause.__context__
    return False


def transport_error(exc: http.HTTPError, endpoint: str, detail: str) -> errors.TTAPIError:
    """Where a request that got no HTTP answer sits in the tree (`detail`: scrubbed words).

    Never sent (no connection, a failed TLS handshake or certificate) is a ConnectError; sent
    and then no answer in time, or a connection cut under it, may have created a job. The
    transport turns a TLS error after the request was written into a ProtocolError, so an
    SSLError here failed before anything was sent (`worker.ttapi.deadline`).
    """
    where = f"{endpoint}: "
    if isinstance(exc, http.ConnectTimeoutError):
        return errors.ConnectError(where + "connect timed out", endpoint=endpoint)
    if isinstance(exc, http.ReadTimeoutError):
        return errors.ReadTimeout(where + "no answer in time", endpoint=endpoint)
    if isinstance(exc, http.SSLError) or never_connected(exc):
        return errors.ConnectError(where + "could not connect to TTAPI", endpoint=endpoint)
    if isinstance(exc, http.ProtocolError | http.IncompleteRead | http.DecodeError):
        return errors.ConnectionLost(where + "connection lost: " + detail, endpoint=endpoint)
    return errors.RequestError(where + detail, endpoint=endpoint)


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (None when absent or not a number)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def http_date(value: str | None) -> float | None:
    """An HTTP `Date` header as epoch seconds (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def snippet(text: str) -> str:
    """A short description of a body: an HTML page's title, else its first 80 characters."""
    title = _TITLE.search(text)
    if title:
        return title.group(1).strip()[:120]
    text = " ".join(text.split())
    return (text[:80] + "…") if len(text) > 80 else (text or "empty body")


__all__ = [
    "http_date",
    "never_connected",
    "odd_body",
    "parsed",
    "retry_after",
    "snippet",
    "transport_error",
]
