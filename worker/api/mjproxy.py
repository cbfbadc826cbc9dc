"""midjourney-proxy's routes on the public side, for the clients that speak that protocol
(new-api, chatgpt-web-midjourney-proxy, bots): `mj-api-secret: <token>` instead of a bearer.

Each submit makes an ordinary API job (`worker.api.jobs`: the same canvas, the same tenant
rules, listed by `/v1/jobs` too) and answers the protocol's `{code, description, result,
properties}` with HTTP 200, as the protocol does, even for its errors (code 4, 3, 21, 23).
Tasks are shaped by `worker.api.mjshapes`. `notifyHook` gets the task (unsigned, as the
protocol sends it) when the job ends; `state` comes back as given.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.security import APIKeyHeader
from pydantic import TypeAdapter, ValidationError

from worker.api import entries, jobs, mjshapes, reads
from worker.api.app import Context, errors, request_of, unauthorized
from worker.api.core import Busy
from worker.api.mjmodels import (
    MjAction,
    MjBlend,
    MjChange,
    MjDescribe,
    MjIds,
    MjImagine,
    MjSimpleChange,
    MjSubmit,
    SubmitResult,
)
from worker.api.problems import ApiProblem
from worker.api.requests import JobRequest
from worker.api.tokens import Token

router = APIRouter(prefix="/mj", tags=["midjourney-proxy"])
secret_header = APIKeyHeader(name="mj-api-secret", auto_error=False)
_JOB = TypeAdapter(JobRequest)


async def mj_caller(
    request: Request, secret: Annotated[str | None, Depends(secret_header)]
) -> Token:
    """The token in `mj-api-secret` (401 without a valid one)."""
    ctx = request_of(request)
    token = await ctx.run(ctx.tokens.authenticate, secret)
    if token is None:
        raise unauthorized("mj-api-secret: a valid token is required")
    return token


Caller = Annotated[Token, Depends(mj_caller)]
SUBMIT_ERRORS = errors(401, 413, 422, 503)


def _fail(code: int, description: str) -> SubmitResult:
    return SubmitResult(code=code, description=description)


async def _submit(
    ctx: Context,
    token: Token,
    body: dict[str, Any],
    sub: MjSubmit,
    mj: dict[str, Any],
    key: str | None = None,
) -> SubmitResult:
    """Make the job `body` describes; the protocol's answer either way."""
    try:
        req = _JOB.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "kind"
        return _fail(mjshapes.VALIDATION_ERROR, f"{where}: {first['msg']}")
    extra = {"mj": json.dumps({k: v for k, v in mj.items() if v is not None})}
    if sub.notifyHook:
        extra["notify_hook"] = sub.notifyHook
    try:
        for _ in range(30):
            try:
                job, found = await ctx.run(jobs.create, ctx.api, token, req, key, extra)
                break
            except Busy:
                await asyncio.sleep(0.1)
        else:
            return _fail(mjshapes.FAILURE, "the same change is being submitted; try again")
    except ApiProblem as exc:
        if exc.problem.status >= 500:
            raise  # not the caller's doing: the same 503 as on /v1/
        if exc.problem.status == 429:
            return _fail(mjshapes.QUEUE_REJECTED, exc.problem.detail or "queue is full")
        return _fail(mjshapes.VALIDATION_ERROR, exc.problem.detail or exc.problem.title)
    if found:
        task = mjshapes.task_of(job, mj)
        props = {"status": task["status"], "imageUrl": task["imageUrl"]}
        return SubmitResult(
            code=mjshapes.EXISTED,
            description="task already exists",
            result=job.id,
            properties=props,
        )
    return SubmitResult(code=mjshapes.SUCCESS, description="submitted", result=job.id)


@router.post("/submit/imagine", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def imagine(request: Request, token: Caller, sub: Annotated[MjImagine, Body()]) -> Any:
    """Imagine: a prompt → a grid of four."""
    if sub.base64Array:
        return _fail(mjshapes.VALIDATION_ERROR, "base64Array (image prompts) is not supported")
    mj = {"action": "IMAGINE", "state": sub.state, "description": f"/imagine {sub.prompt}"}
    body = {"kind": "imagine", "prompt": sub.prompt or ""}
    return await _submit(request_of(request), token, body, sub, mj)


async def _press(
    request: Request, token: Caller, sub: MjSubmit, task_id: str | None, button: str | None
) -> SubmitResult:
    """A button on one of the caller's finished tasks (21 if that press was made before)."""
    if not task_id:
        return _fail(mjshapes.VALIDATION_ERROR, "taskId: required")
    if button is None:
        return _fail(mjshapes.VALIDATION_ERROR, "this button needs a modal: not supported")
    ctx = request_of(request)
    try:
        await ctx.run(reads.view, ctx.api, token, task_id)
    except ApiProblem:
        return _fail(mjshapes.NOT_FOUND, "related task does not exist or has expired")
    mj = {
        "action": mjshapes.action_of(button),
        "state": sub.state,
        "description": f"/up {task_id} {button}",
    }
    body = {"kind": "action", "parent": task_id, "action": button}
    return await _submit(ctx, token, body, sub, mj, key=f"mj-press:{task_id}:{button}")


@router.post("/submit/change", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def change(request: Request, token: Caller, sub: Annotated[MjChange, Body()]) -> Any:
    """UPSCALE / VARIATION (index 1–4) / REROLL on a finished task."""
    button = mjshapes.change_action(str(sub.action or ""), sub.index)
    if sub.taskId and button is None:
        return _fail(mjshapes.VALIDATION_ERROR, "action: UPSCALE, VARIATION (index 1-4), REROLL")
    return await _press(request, token, sub, sub.taskId, button)


@router.post("/submit/simple-change", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def simple_change(
    request: Request, token: Caller, sub: Annotated[MjSimpleChange, Body()]
) -> Any:
    """`content: "<task id> U2"`."""
    parsed = mjshapes.simple_change(sub.content or "")
    if parsed is None:
        return _fail(mjshapes.VALIDATION_ERROR, "content: '<task id> U1-U4|V1-V4|R'")
    return await _press(request, token, sub, parsed[0], parsed[1])


@router.post("/submit/action", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def action(request: Request, token: Caller, sub: Annotated[MjAction, Body()]) -> Any:
    """A button by its `customId` (the later form)."""
    return await _press(request, token, sub, sub.taskId, mjshapes.pressed(sub.customId or ""))


@router.post("/submit/modal", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def modal(request: Request, token: Caller, sub: Annotated[MjSubmit, Body()]) -> Any:
    """Not supported: TTAPI's Vary (Region) is `kind: inpaint` on `/v1/jobs`."""
    return _fail(mjshapes.VALIDATION_ERROR, "modal is not supported; use /v1/jobs kind inpaint")


@router.post("/submit/blend", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def blend(request: Request, token: Caller, sub: Annotated[MjBlend, Body()]) -> Any:
    """Blend 2–5 images."""
    mj = {"action": "BLEND", "state": sub.state, "description": "/blend"}
    body = {"kind": "blend", "images": sub.base64Array or [], "dimensions": sub.dimensions}
    body = {k: v for k, v in body.items() if v is not None}
    return await _submit(request_of(request), token, body, sub, mj)


@router.post("/submit/describe", response_model=SubmitResult, responses=SUBMIT_ERRORS)
async def describe(request: Request, token: Caller, sub: Annotated[MjDescribe, Body()]) -> Any:
    """An image → four prompts (`properties.finalPrompt`)."""
    mj = {"action": "DESCRIBE", "state": sub.state, "description": "/describe"}
    body = {"kind": "describe", "image": sub.base64 or ""}
    return await _submit(request_of(request), token, body, sub, mj)


def _task(ctx: Context, token: Token, task_id: str) -> dict[str, Any] | None:
    doc = entries.entry_of(ctx.api, token.tenant, task_id)
    if doc is None:
        return None
    job = reads.build_views(ctx.api, [(task_id, doc)])[0]
    return mjshapes.task_of(job, json.loads(doc.get("mj") or "{}"))


@router.get("/task/{task_id}/fetch", responses=errors(401, 404, 422, 503))
async def fetch(request: Request, token: Caller, task_id: str) -> dict[str, Any]:
    """One task."""
    ctx = request_of(request)
    found = await ctx.run(_task, ctx, token, task_id[:64])
    if found is None:
        raise ApiProblem(404, "Not Found", f"no task {task_id[:64]}")
    return found


@router.post("/task/list-by-condition", responses=errors(401, 413, 422, 503))
async def list_by_condition(
    request: Request, token: Caller, cond: Annotated[MjIds, Body()]
) -> list[dict[str, Any]]:
    """The caller's tasks among `ids` (unknown ones left out)."""
    ctx = request_of(request)
    ids = list(dict.fromkeys(cond.ids or []))

    def read() -> list[dict[str, Any]]:
        return [t for t in (_task(ctx, token, i) for i in ids) if t is not None]

    return await ctx.run(read)


__all__ = ["router"]
