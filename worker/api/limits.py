"""Request body limits per route, for a server (uvicorn) that has none of its own.

`POST /v1/jobs` may carry a blend of five inline images of `MJ_INLINE_IMAGE_MAX_BYTES` (5 MiB
each: about 35 MB of base64); every other route takes at most 1 MiB. A declared
`Content-Length` over the limit is refused before a byte is read; a body without one (chunked)
is counted as it arrives and refused the moment it passes the limit. Either way the answer is a
413 problem, and the application never sees the body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from worker.api.problems import MEDIA_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GENERAL_MAX = 1_048_576


def limit_for(method: str, path: str, inline_max: int = 5 * 1_048_576) -> int:
    """The largest body `method path` takes: five inline images (4/3 of their size in base64)
    and 1 MiB for the rest on the routes that take a blend, one image on the other submits."""
    if method == "POST" and path.rstrip("/") in ("/v1/jobs", "/mj/submit/blend"):
        return 5 * (inline_max * 4 // 3 + 64) + GENERAL_MAX
    if method == "POST" and path.startswith("/mj/submit/"):
        return inline_max * 4 // 3 + GENERAL_MAX
    return GENERAL_MAX


class TooLarge(Exception):
    """The body passed its limit while it was being read."""


class BodyLimit:
    """ASGI middleware: refuse bodies over their route's limit with a 413 problem."""

    def __init__(self, app: ASGIApp, inline_max: int = 5 * 1_048_576) -> None:
        self.app = app
        self.inline_max = inline_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["method"], scope["path"], self.inline_max)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, scope, 400, "Bad Request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _refuse(send, scope, 413, "Content Too Large", _said(limit))
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge()
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except TooLarge:
            if not started:
                await _refuse(send, scope, 413, "Content Too Large", _said(limit))


def _said(limit: int) -> str:
    return f"the body is over this route's limit of {limit:,} bytes"


async def _refuse(send: Send, scope: Scope, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    ).encode()
    headers = [
        (b"content-type", MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["GENERAL_MAX", "BodyLimit", "limit_for"]
