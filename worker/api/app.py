"""The HTTP API as a FastAPI app: `/v1/jobs...`, `/v1/openapi.json`, and the midjourney-proxy
routes (`worker.api.mjproxy`).

Handlers are `async`; their Redis work runs in threads of the API's own limiter
(`API_THREADS`), never in those that serve TTAPI's webhooks (`worker.cli.web_servers`). A
long poll (`?wait=N`) holds no thread while it waits: it sleeps on the event loop between
two short reads. There are no interactive docs (nothing loads assets from a CDN): the spec is
at `/v1/openapi.json`.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from anyio import CapacityLimiter
from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from worker.api import cancel, jobs, problems, reads
from worker.api.core import Api, Busy
from worker.api.idempotency import MAX_KEY, WAIT_S
from worker.api.listing import list_jobs
from worker.api.problems import ApiProblem, Problem
from worker.api.requests import JobRequest
from worker.api.tokens import Token, TokenStore
from worker.api.views import ENDED, Job, JobList, Status

API_THREADS = 16
MAX_WAIT_S = 60
POLL_S = 0.5
T = TypeVar("T")
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares (every one a Problem)."""
    words = {
        401: "no token, or not a valid one",
        404: "no such job of yours",
        409: "the Idempotency-Key's first request is in flight, or the job cannot be changed",
        413: "the body is over this route's limit",
        422: "a field is wrong (named in `errors`), or a key was reused with another body",
        429: "the tenant's daily quota is spent (see Retry-After)",
        503: "the job store does not answer (see Retry-After)",
    }
    return {c: {"model": Problem, "description": words[c]} for c in codes}


class Context:
    """What the routes share: the Api, the token store, the API's thread limiter."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.tokens = TokenStore(api.rt.redis, api.rt.keys)
        self.limiter = CapacityLimiter(API_THREADS)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in one of the API's threads."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)


def unauthorized(detail: str = "a valid token is required") -> ApiProblem:
    """401 with the challenge RFC 9110 asks for."""
    return ApiProblem(
        401, "Unauthorized", detail, kind="unauthorized", headers={"WWW-Authenticate": "Bearer"}
    )


def create_api_app(api: Api) -> FastAPI:
    """The FastAPI app over `api` (mounted by `mjw web` on the public side)."""
    from worker.api.mjproxy import router as mj_router

    app = FastAPI(
        title="mj-worker",
        version="1",
        summary="Midjourney jobs through TTAPI: queued, guarded, idempotent",
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    ctx = Context(api)
    app.state.ctx = ctx
    problems.install(app)
    bearer = HTTPBearer(auto_error=False, description="a token from `mjw tokens create`")

    async def caller(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Token:
        token = await ctx.run(ctx.tokens.authenticate, creds.credentials if creds else None)
        if token is None:
            raise unauthorized()
        return token

    Caller = Annotated[Token, Depends(caller)]

    @app.post(
        "/v1/jobs",
        status_code=202,
        response_model=Job,
        responses=errors(401, 409, 413, 422, 429, 503),
        summary="Make a job (any kind, with follow-up steps)",
    )
    async def post_job(
        token: Caller,
        body: Annotated[JobRequest, Body()],
        response: Response,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY)
        ] = None,
    ) -> Job:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                job, replayed = await ctx.run(jobs.create, api, token, body, idempotency_key)
                break
            except Busy:
                if time.monotonic() > deadline:
                    raise ApiProblem(
                        409,
                        "Conflict",
                        "a request with this Idempotency-Key is in flight; retry shortly",
                        kind="idempotency-key-in-flight",
                        headers={"Retry-After": "1"},
                    ) from None
                await asyncio.sleep(0.1)
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return job

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=Job,
        responses=errors(401, 404, 422, 503),
        summary="One job: status, position, progress, steps, result, error",
    )
    async def get_job(
        token: Caller,
        job_id: JobId,
        wait: Annotated[
            int,
            Query(
                ge=0,
                le=MAX_WAIT_S,
                description="long poll: answer when the status changes, or after this many s",
            ),
        ] = 0,
    ) -> Job:
        job = await ctx.run(reads.view, api, token, job_id)
        until = time.monotonic() + wait
        first = job.status
        while job.status == first and first not in ENDED and time.monotonic() < until:
            await asyncio.sleep(min(POLL_S, max(0.0, until - time.monotonic())))
            job = await ctx.run(reads.view, api, token, job_id)
        return job

    @app.get(
        "/v1/jobs",
        response_model=JobList,
        responses=errors(401, 422, 503),
        summary="Your jobs, newest first",
    )
    async def get_jobs(
        token: Caller,
        status: Annotated[Status | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=100)] = None,
    ) -> JobList:
        return await ctx.run(
            lambda: list_jobs(api, token, status=status, limit=limit, cursor=cursor)
        )

    @app.post(
        "/v1/jobs/{job_id}/cancel",
        response_model=Job,
        responses=errors(401, 404, 409, 422, 503),
        summary="Cancel a job TTAPI does not have yet (409 once it has: it cannot be recalled)",
    )
    async def cancel_job(token: Caller, job_id: JobId) -> Job:
        return await ctx.run(cancel.cancel, api, token, job_id)

    app.include_router(mj_router)
    app.openapi = lambda: _spec(app)  # type: ignore[method-assign]
    return app


def _spec(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with every error answer as `application/problem+json`."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
        openapi_version="3.1.0",
    )
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            for code, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if code[:1] in "45" and "application/json" in content:
                    answer["content"] = {problems.MEDIA_TYPE: content["application/json"]}
    app.openapi_schema = doc
    return doc


def request_of(request: Request) -> Context:
    """The routes' shared context (for routers in other modules)."""
    ctx: Context = request.app.state.ctx
    return ctx


__all__ = ["API_THREADS", "Context", "create_api_app", "errors", "request_of", "unauthorized"]
