"""Calling a WSGI app in-process (no socket), and a carrier of effects for apps that run no step."""

from __future__ import annotations

from typing import Any
from wsgiref.types import WSGIApplication
from wsgiref.util import setup_testing_defaults

from worker.jobs.effects import Effects


def no_effects(effects: Effects) -> None:
    """Carries nothing out: for a receiver whose tests never settle a job (fails if one does)."""
    assert not effects, effects


def wsgi_get(
    app: WSGIApplication, path: str, method: str = "GET"
) -> tuple[int, dict[str, str], str]:
    """Call `app` once with no body (`path` may carry a query): status, headers, the body."""
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body.decode()
