"""The webhook receiver: TTAPI POSTs a job's state to `/hook/<token>` and we settle the job.

Each submit carries `hookUrl = MJ_HOOK_BASE_URL/hook/<token>` (`worker.jobs.submit.hook_url`);
what a callback's step returns is carried out by `carry_out` (the Celery app's dispatcher).
TTAPI signs nothing, so the per-job token is the only credential: unguessable, compared in
constant time with the record's, never logged in full. A finished job ends through `settle`,
whose compare-and-set makes a retried or duplicated callback a no-op; those get 200 too, because
TTAPI retries (up to 3 times) until it gets a 200. Polling stays on as a slow safety net for
callbacks that never come.
`GET /healthz` is answered by `worker.ops.http`; `/metrics` and the operator page are not
served here (404) but on the private side (`MJ_ADMIN_BIND`, `worker.cli.web_servers`).
Plain WSGI: `create_wsgi_app(rt)` for any server, `serve` under waitress, and `app_from_env` for
`waitress-serve --call worker.webhook:app_from_env`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import redis
from pydantic import ValidationError

from config.problems import problems
from worker.adapter.logs import configure_logging
from worker.jobs import claims
from worker.jobs.effects import CarryOut, Effects
from worker.jobs.reconcile import adopt
from worker.jobs.record import RecordState
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.jobs.settle import record_progress, settle
from worker.ops.http import Endpoints, encode, run_until_stopped
from worker.ttapi.responses import Envelope, JobInfo

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576
# `secrets.token_urlsafe(24)` gives 32 such characters; anything else is not ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


class HookError(Exception):
    """A callback we refuse; `status` is the HTTP answer, `message` is safe to send back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Reply:
    """One HTTP answer: a JSON object or plain text, plus extra headers."""

    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Seen:
    """What one hook request turned out to be, for its single log line (no token, no body)."""

    token_hint: str
    job_id: str = "-"
    ttapi_job_id: str = "-"
    status: str = "-"


def create_wsgi_app(
    rt: Runtime, carry_out: CarryOut, *, max_body: int = MAX_BODY
) -> WSGIApplication:
    """The receiver as a WSGI app: `POST /hook/<token>` and `GET /healthz` (the rest is 404);
    `carry_out` carries out what each callback's step returns."""
    ops = Endpoints(rt)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        reply = route(rt, environ, max_body, ops, carry_out)
        return _respond(start_response, reply, head=environ.get("REQUEST_METHOD") == "HEAD")

    return app


def route(
    rt: Runtime, environ: WSGIEnvironment, max_body: int, ops: Endpoints, carry_out: CarryOut
) -> Reply:
    """Dispatch one request by path and method; wrong paths are 404, wrong methods 405."""
    path = str(environ.get("PATH_INFO") or "/")
    method = str(environ.get("REQUEST_METHOD") or "GET").upper()
    if path == "/healthz":  # public: this process and Redis only; /metrics is private
        return Reply(*ops.answer(path, method))
    if path != "/hook" and not path.startswith("/hook/"):
        return Reply(404, {"ok": False, "error": "not found"})
    if method != "POST":
        return _not_allowed("POST")
    token = path.removeprefix("/hook").removeprefix("/")
    seen = Seen(token_hint=token[:4] + "…")
    try:
        reply, effects = handle_hook(rt, token, environ, max_body, seen)
        carry_out(effects)
    except HookError as exc:
        reply = Reply(exc.status, {"ok": False, "error": exc.message})
    except Exception as exc:  # Redis away, publish failed...: TTAPI retries on a non-200
        log.error(
            "hook for job %s: internal error (%s)",
            seen.job_id,
            type(exc).__name__,
            exc_info=not isinstance(exc, redis.RedisError),
        )  # no traceback per retry
        reply = Reply(500, {"ok": False, "error": "internal error"})
    settled = isinstance(reply.body, dict) and reply.body.get("settled")
    log.info(
        "hook token=%s job=%s ttapi=%s status=%s -> %d%s",
        seen.token_hint,
        seen.job_id,
        seen.ttapi_job_id,
        seen.status,
        reply.status,
        " settled" if settled else "",
    )
    return reply


def handle_hook(
    rt: Runtime, token: str, environ: WSGIEnvironment, max_body: int, seen: Seen
) -> tuple[Reply, Effects]:
    """Authenticate, read and apply one callback, and what follows; raises HookError for
    every refusal."""
    rec = _record_for(rt, token)
    seen.job_id = rec.job_id
    info = parse(read_body(environ, max_body))
    seen.ttapi_job_id, seen.status = _loggable(info.job_id), _loggable(info.status)
    if not info.job_id:
        raise HookError(400, "body has no jobId")
    if info.job_id and info.job_id == rec.previous_job_id:
        # A late retry for the attempt that failed and was resubmitted: already handled. It
        # must never be taken for the resubmit's job, even while that one's answer is lost.
        return Reply(200, {"ok": True, "settled": False}), []
    if rec.state == RecordState.SUBMITTING and not rec.ttapi_job_id:
        # The submit's answer is still on its way (a fast job, a slow answer): keep the proof
        # for it, or for the reconcile if that answer is lost. TTAPI stops after 3 tries.
        if claims.hooked(rt, rec, info.job_id):
            return Reply(200, {"ok": True, "settled": False}), []
        rec = rt.records.load(rec.job_id) or rec  # it moved on meanwhile: as any callback
    effects: Effects = []
    if rec.state == RecordState.AMBIGUOUS and not rec.ttapi_job_id:
        # The submit's answer was lost, but TTAPI called the hook only this job's submit
        # carried (token-authenticated): that is proof of which TTAPI job is ours.
        effects = adopt(rt, rec, info.job_id)[1]
        rec = rt.records.load(rec.job_id) or rec
    if info.job_id != rec.ttapi_job_id:
        raise HookError(409, "jobId is not the job this hook was issued for")
    if info.finished:
        settled, more = settle(rt, rec, info)
        return Reply(200, {"ok": True, "settled": settled}), effects + more
    return Reply(200, {"ok": True, "settled": False}), effects + record_progress(
        rt, rec, info.progress
    )


def _record_for(rt: Runtime, token: str) -> JobRecord:
    """The job record the token was issued for, or HookError 404 (same answer for every miss)."""
    if not _TOKEN.fullmatch(token):
        raise HookError(404, "unknown hook")
    job_id = rt.redis.get(rt.keys.hook(token))
    rec = rt.records.load(str(job_id)) if job_id else None
    if rec is None or not hmac.compare_digest(rec.hook_token.encode(), token.encode()):
        raise HookError(404, "unknown hook")
    return rec


def read_body(environ: WSGIEnvironment, max_body: int) -> bytes:
    """The request body; HookError 413 as soon as it is known to exceed `max_body` bytes."""
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if raw:
        if not raw.isdigit():
            raise HookError(400, "bad Content-Length")
        if int(raw) > max_body:
            raise HookError(413, f"body over {max_body} bytes")
        limit = int(raw)
    elif environ.get("wsgi.input_terminated"):
        limit = max_body + 1  # the server ends the stream itself: read one byte too many
    else:
        limit = 0  # PEP 3333: without a length, never read (the socket could block)
    stream, parts, size = environ["wsgi.input"], [], 0
    while size < limit:
        chunk = stream.read(min(65536, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > max_body:
            raise HookError(413, f"body over {max_body} bytes")
    return b"".join(parts)


def parse(body: bytes) -> JobInfo:
    """The callback as a JobInfo (quirks absorbed: `actions`, string progress, ...)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise HookError(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise HookError(400, "body is not a JSON object")
    try:
        return JobInfo.from_envelope(Envelope.model_validate(data))
    except ValidationError as exc:  # only locations go back: values may be anything
        where = ", ".join(p.where for p in problems(exc)[:3])
        raise HookError(400, f"body not as documented ({where})") from None


def _loggable(text: str) -> str:
    """Text from the body, safe for a log line (no newlines or escapes, bounded)."""
    return re.sub(r"[^\w.:-]", "?", text)[:64] or "-"


def _not_allowed(allow: str) -> Reply:
    return Reply(405, {"ok": False, "error": "method not allowed"}, [("Allow", allow)])


def _respond(start_response: StartResponse, reply: Reply, *, head: bool) -> list[bytes]:
    data, ctype = encode(reply.body)
    if any(name.lower() == "content-type" for name, _ in reply.headers):
        ctype = dict((k.lower(), v) for k, v in reply.headers)["content-type"]
    headers = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(data))),
        *((k, v) for k, v in reply.headers if k.lower() != "content-type"),
    ]
    start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers)
    return [] if head else [data]


def make_server(
    rt: Runtime, carry_out: CarryOut, host: str, port: int, *, max_body: int = MAX_BODY
) -> Any:
    """A bound waitress server (`effective_port` tells a port 0's real number); not running."""
    import waitress

    # waitress buffers bodies before calling the app: make it refuse oversize ones itself.
    return waitress.create_server(
        create_wsgi_app(rt, carry_out, max_body=max_body),
        host=host,
        port=port,
        threads=8,
        max_request_body_size=max_body,
        ident="mj-webhook",
    )


def serve(rt: Runtime, carry_out: CarryOut, host: str, port: int) -> None:
    """Serve the receiver under waitress on `host:port` until SIGINT or SIGTERM."""
    server = make_server(rt, carry_out, host, port)
    log.info("webhook receiver on http://%s:%s", host, server.effective_port)
    run_until_stopped(server)


def app_from_env() -> WSGIApplication:
    """Zero-argument factory for `waitress-serve --call`: settings and Runtime from the env."""
    from worker.adapter import patches
    from worker.adapter.app import app

    configure_logging(app.mj_settings)
    patches.for_publisher()
    return create_wsgi_app(app.runtime, app.dispatcher.carry_out)


__all__ = ["app_from_env", "create_wsgi_app", "make_server", "serve"]
