"""The private side of `mjw web` (`MJ_ADMIN_BIND`): the operator page, its JSON, `/metrics`
and a `/healthz` with details. Read-only: GET and HEAD only.

    /                  the operator page (server-rendered; live.js keeps it live)
    /fragment          the page's live part, what live.js fetches every few seconds
    /static/<file>     live.js, page.css
    /api/overview      everything the page shows, as JSON
    /api/health        liveness: queues, workers, the pump, ok/degraded and why
    /api/accounts      per account: slots, waiting, 429/499, rotation, owner
    /api/tenants       per tenant: in progress, waiting, share, today's jobs, ended
    /api/jobs          ?kind=waiting|active|recent|failed&account=A&limit=N
    /api/jobs/<id>     one job in full (record, steps, timings, URLs, error)
    /metrics           Prometheus text
    /healthz           200 {"status": "ok"|"degraded", "reasons": [...]}; 503 when Redis is down

With `MJ_ADMIN_AUTH=user:password` every path asks for HTTP basic auth (compared in constant
time). Every answer says `Cache-Control: no-store` and forbids framing; the page's policy lets
scripts and styles come only from here, and images and clips (TTAPI's CDN) from anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import redis

from worker.ops import jobs, liveness, page, prometheus
from worker.ops.accounts import account_rows
from worker.ops.overview import overview
from worker.ops.show import show
from worker.ops.tenants import tenant_rows
from worker.ops.view import OpsView

log = logging.getLogger(__name__)
Answer = tuple[int, str | bytes | dict[str, Any] | list[Any], str]
HTML = "text/html; charset=utf-8"
HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src * data:; media-src *; script-src 'self'; style-src 'self'; "
        "frame-ancestors 'none'",
    ),
]


def create_admin_app(view: OpsView) -> WSGIApplication:
    """The private side as a WSGI app over `view` (auth from its settings)."""
    secret = view.settings.mj_admin_auth
    expected = secret.get_secret_value().encode() if secret is not None else None
    registry = prometheus.registry_for(view)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        extra: list[tuple[str, str]] = []
        body: str | bytes | dict[str, Any] | list[Any]
        if expected is not None and not _authorized(environ, expected):
            status, body, ctype = 401, {"error": "authentication required"}, ""
            extra = [("WWW-Authenticate", 'Basic realm="mj-worker", charset="UTF-8"')]
        elif method not in ("GET", "HEAD"):
            status, body, ctype = 405, {"error": "read-only: GET and HEAD only"}, ""
            extra = [("Allow", "GET, HEAD")]
        else:
            status, body, ctype = answer(view, registry, path, environ)
        data, ctype = _encode(body, ctype)
        headers = [("Content-Type", ctype), ("Content-Length", str(len(data))), *HEADERS, *extra]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [] if method == "HEAD" else [data]

    return app


def answer(view: OpsView, registry: Any, path: str, environ: WSGIEnvironment) -> Answer:
    """`(status, body, content type)` for one GET; Redis away is 503 (never a long wait)."""
    route = ROUTES.get(path)
    try:
        if route is not None:
            return route(view, registry, environ)
        if path.startswith("/api/jobs/"):
            found = show(view, path.removeprefix("/api/jobs/"))
            return (200, found, "") if found else (404, {"error": "no such job"}, "")
        if path.startswith("/static/"):
            found_file = page.static_file(path.removeprefix("/static/"))
            return (200, *found_file) if found_file else (404, {"error": "not found"}, "")
    except (redis.RedisError, OSError) as exc:
        reason = f"redis: {type(exc).__name__}"  # the class only: a message may hold the URL
        log.warning("admin %s: %s", path, reason)
        if path == "/healthz":
            return 503, {"status": "down", "reasons": [reason]}, ""
        return 503, {"error": reason}, ""
    return 404, {"error": "not found"}, ""


def _page(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    return 200, page.render_page(overview(view)), HTML


def _fragment(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    return 200, page.render_live(overview(view)), HTML


def _overview(view: OpsView, _: Any, environ: WSGIEnvironment) -> Answer:
    return 200, overview(view, limit=_limit(environ, 20)), ""


def _health(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    return 200, liveness.read(view).as_dict(), ""


def _accounts(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    return 200, {"accounts": account_rows(view)}, ""


def _tenants(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    return 200, {"tenants": tenant_rows(view)}, ""


def _jobs(view: OpsView, _: Any, environ: WSGIEnvironment) -> Answer:
    query = parse_qs(str(environ.get("QUERY_STRING") or ""))
    kind = query.get("kind", ["active"])[-1]
    if kind not in jobs.KINDS:
        return 400, {"error": f"kind must be one of {', '.join(jobs.KINDS)}"}, ""
    account = query.get("account", [""])[-1] or None
    found = jobs.listing(view, kind, view.now(), account=account, limit=_limit(environ, 50))
    return 200, {"kind": kind, "account": account, "jobs": found}, ""


def _metrics(view: OpsView, registry: Any, _: WSGIEnvironment) -> Answer:
    return 200, prometheus.render(registry), prometheus.CONTENT_TYPE


def _healthz(view: OpsView, _: Any, __: WSGIEnvironment) -> Answer:
    """Degraded is still 200: a container healthcheck must not restart web over a worker."""
    live = liveness.read(view).as_dict()
    return 200, {k: live[k] for k in ("status", "reasons", "queues", "pump")}, ""


ROUTES: dict[str, Callable[[OpsView, Any, WSGIEnvironment], Answer]] = {
    "/": _page,
    "/fragment": _fragment,
    "/api/overview": _overview,
    "/api/health": _health,
    "/api/accounts": _accounts,
    "/api/tenants": _tenants,
    "/api/jobs": _jobs,
    "/metrics": _metrics,
    "/healthz": _healthz,
}


def _limit(environ: WSGIEnvironment, default: int) -> int:
    raw = parse_qs(str(environ.get("QUERY_STRING") or "")).get("limit", [""])[-1]
    return min(500, max(1, int(raw))) if raw.isdigit() else default


def _authorized(environ: WSGIEnvironment, expected: bytes) -> bool:
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, expected)


def _encode(body: str | bytes | dict[str, Any] | list[Any], ctype: str) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, ctype
    if isinstance(body, str):
        return body.encode(), ctype or "text/plain; charset=utf-8"
    return json.dumps(body, default=str).encode(), "application/json"


__all__ = ["ROUTES", "answer", "create_admin_app"]
