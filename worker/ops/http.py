"""The operations endpoints, `GET /metrics` and `GET /healthz`, for any WSGI app of ours.

`/metrics` is private: the admin side of `mjw web` (`MJ_ADMIN_BIND`) and `mjw metrics --port N`
(loopback unless told otherwise) serve it; the public webhook port answers `/healthz` only
(this process and Redis: 200 or 503, no details). Both read Redis through an `OpsView`, whose
client gives up within `MJ_HEALTH_TIMEOUT_S`.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import redis

from worker.jobs.runtime import Runtime
from worker.ops import health, prometheus
from worker.ops.view import OpsView

log = logging.getLogger(__name__)
PATHS = ("/metrics", "/healthz")
Body = dict[str, Any] | str
Headers = list[tuple[str, str]]


class Endpoints:
    """What `/metrics` and `/healthz` answer; built once per app (registry, health probe)."""

    def __init__(self, rt: Runtime) -> None:
        self.view = OpsView.on(rt.settings, rt.redis)
        self.registry = prometheus.registry_for(self.view)
        self.probe = self.view.redis

    def answer(self, path: str, method: str) -> tuple[int, Body, Headers]:
        """`(status, body, headers)` for one of PATHS; a dict body is sent as JSON."""
        if method not in ("GET", "HEAD"):
            return 405, {"ok": False, "error": "method not allowed"}, [("Allow", "GET, HEAD")]
        if path == "/healthz":
            status, body = health.check(self.probe)
            return status, body, []
        try:
            text = prometheus.render(self.registry).decode()
        except (redis.RedisError, OSError) as exc:  # Prometheus marks the target down (up == 0)
            log.warning("metrics scrape failed: redis %s", type(exc).__name__)
            return 503, f"redis unavailable ({type(exc).__name__})\n", []
        return 200, text, [("Content-Type", prometheus.CONTENT_TYPE)]


def create_metrics_app(rt: Runtime) -> WSGIApplication:
    """A WSGI app serving only PATHS (anything else is 404): `mjw metrics --port N`."""
    endpoints = Endpoints(rt)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        if path in PATHS:
            status, body, headers = endpoints.answer(path, method)
        else:
            status, body, headers = 404, {"ok": False, "error": "not found"}, []
        data, ctype = encode(body)
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers = [("Content-Type", ctype), *headers]
        start_response(
            f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(data)))]
        )
        return [] if method == "HEAD" else [data]

    return app


def encode(body: Body) -> tuple[bytes, str]:
    """A body's bytes and default content type: JSON for a dict, plain text for a string."""
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


def make_metrics_server(rt: Runtime, host: str, port: int) -> Any:
    """A bound waitress server for `create_metrics_app` (port 0: see `effective_port`)."""
    import waitress

    return waitress.create_server(
        create_metrics_app(rt), host=host, port=port, threads=4, ident="mj-metrics"
    )


def serve_metrics(rt: Runtime, host: str, port: int) -> None:
    """Serve `/metrics` and `/healthz` on `host:port` until SIGINT or SIGTERM.

    Raises OSError when the port cannot be bound (the CLI turns it into one line, exit 1).
    """

    server = make_metrics_server(rt, host, port)
    log.info("metrics on http://%s:%s/metrics", host, server.effective_port)
    run_until_stopped(server)


__all__ = ["PATHS", "Endpoints", "create_metrics_app", "make_metrics_server", "serve_metrics"]


def run_until_stopped(server: Any) -> None:
    """Run a waitress server until SIGINT or SIGTERM, then close it (handlers restored)."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, signal.default_int_handler)  # KeyboardInterrupt
    try:
        server.run()  # waitress ends its loop and task threads on KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.close()
