"""Calling a WSGI app in-process (no socket), and a Dispatcher for runtimes that run no step."""

from __future__ import annotations

from typing import Any
from wsgiref.types import WSGIApplication
from wsgiref.util import setup_testing_defaults


class NullDispatcher:
    """Publishes nothing: for a `Runtime` whose tests never run a job step."""

    def resume(self, job_id: str, countdown: float = 0.0, *, sig: Any = None) -> None: ...
    def poll(self, job_id: str, seq: int, countdown: float) -> None: ...
    def fill(self, label: str, countdown: float) -> None: ...
    def publish_state(
        self, job_id: str, state: str, meta: dict[str, Any], *, event: bool = True
    ) -> None: ...


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
