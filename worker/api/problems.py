"""Every error of the HTTP API as `application/problem+json` (RFC 9457), validation included.

`Problem` is the body and its schema in the spec; `ApiProblem` is what handlers raise. FastAPI's
own answers (its 422 `{"detail": ...}`, 404 and 405 for unknown routes) are rewritten here into
problems too, so a client parses one error shape. A Redis (or broker) that does not answer is
a 503 with `Retry-After`, never a 500; any other unexpected error is logged and answered 500
without its text (it is a bug: the property test fails on any 5xx).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from worker.adapter.api_jobs import BrokerUnavailable
from worker.ttapi.kinds import KINDS

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:mj-worker:problem:"


class FieldError(BaseModel):
    """One field that is wrong, and the rule it broke."""

    field: str = Field(description="dotted location in the body, query or headers")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457)."""

    type: str = Field("about:blank", description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(None, description="422: every field that is wrong")


class ApiProblem(Exception):
    """Raised by handlers: becomes a problem+json answer."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=TYPE_BASE + kind if kind else "about:blank",
            title=title,
            status=status,
            detail=detail,
            errors=errors,
        )
        self.headers = headers or {}


def invalid(field: str, message: str) -> ApiProblem:
    """A 422 naming one field."""
    return ApiProblem(
        422,
        "Unprocessable Content",
        f"{field}: {message}",
        kind="validation",
        errors=[FieldError(field=field, message=message)],
    )


def respond(problem: Problem, request: Request, headers: dict[str, str] | None = None) -> Any:
    """The problem as a response (`instance` is the request's path)."""
    body = problem.model_copy(update={"instance": request.url.path})
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def field_name(loc: tuple[Any, ...]) -> str:
    """pydantic's location as the client wrote it: `prompt`, `images.2`, `query.wait`."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
        # the discriminated union adds the kind's tag (and a function-after step) to the path
        if parts and isinstance(parts[0], str) and parts[0] in _KIND_TAGS:
            parts = parts[1:]
    elif parts and parts[0] in ("query", "header", "path"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "kind"


_KIND_TAGS = set(KINDS)


def _validation(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            field=field_name(tuple(e.get("loc", ()))),
            message=str(e.get("msg", "invalid")).removeprefix("Value error, "),
        )
        for e in exc.errors()
    ][:20]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    problem = Problem(
        type=TYPE_BASE + "validation",
        title="Unprocessable Content",
        status=422,
        detail=detail[:2000],
        errors=errors,
    )
    return respond(problem, request)


def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    return respond(Problem(title=title, status=exc.status_code, detail=detail), request, headers)


def _api(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, ApiProblem)
    return respond(exc.problem, request, exc.headers)


def _redis(request: Request, exc: Exception) -> Any:
    log.warning("api %s: redis %s", request.url.path, type(exc).__name__)
    problem = Problem(
        type=TYPE_BASE + "unavailable",
        title="Service Unavailable",
        status=503,
        detail="the job store (Redis) does not answer; try again (a POST made nothing)",
    )
    return respond(problem, request, {"Retry-After": "2"})


def _bug(request: Request, exc: Exception) -> Any:
    log.error("api %s: internal error", request.url.path, exc_info=exc)
    return respond(Problem(title="Internal Server Error", status=500), request)


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ApiProblem, _api)
    app.add_exception_handler(redis.RedisError, _redis)
    app.add_exception_handler(BrokerUnavailable, _redis)
    app.add_exception_handler(Exception, _bug)


__all__ = ["MEDIA_TYPE", "ApiProblem", "FieldError", "Problem", "install", "invalid"]
