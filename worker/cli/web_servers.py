"""`mjw web`: both sides of the web process, on one ASGI stack (uvicorn, one event loop).

- public, on `PORT` (all interfaces by default): TTAPI's callbacks (`/hook/<token>`), a plain
  `/healthz` (this process and Redis), and the HTTP API (`/v1/`, `/mj/`, behind tokens); 404
  to the rest;
- private, on `MJ_ADMIN_BIND` (loopback by default): the operator page, `/api/`, `/metrics`
  and `/healthz` with details (`worker.ops.admin`).

The webhook receiver and the private side stay WSGI apps, each run by `a2wsgi` in a thread pool
of its own (8 threads for callbacks, 4 for the private side). The API's handlers are async and
do their Redis work in the API's own limiter (`worker.api.app.API_THREADS`), over a Redis
client of their own that gives up sooner (`api_runtime_of`); its long polls sleep on the event
loop. So no number of API calls or long polls can take a thread TTAPI's callbacks need.
Bodies are bounded per route (`worker.api.limits`: 1 MiB, and a blend's worth on the routes
that take images), and the receiver checks its own 1 MiB again.

Both servers run in one background thread's event loop (with the API's callback sender); the
caller's thread waits for a signal (`run`), or stops them (`close`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from worker.jobs.effects import CarryOut
from worker.jobs.runtime import Runtime
from worker.ops.admin import create_admin_app
from worker.ops.view import OpsView

log = logging.getLogger(__name__)
PUBLIC_THREADS, ADMIN_THREADS = 8, 4
API_PREFIXES = ("/v1/", "/mj/")
STOP_WAIT_S = 10.0


class PublicSide:
    """The public ASGI app: the API's prefixes to the API, the rest to the webhook receiver."""

    def __init__(self, hooks: Any, api: Any | None) -> None:
        self.hooks = hooks
        self.api = api

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path") or "")
        if self.api is not None and (path.startswith(API_PREFIXES) or path in ("/v1", "/mj")):
            await self.api(scope, receive, send)
        elif scope["type"] == "http":
            await self.hooks(scope, receive, send)


@dataclass
class WebServers:
    """The two bound sockets and their servers; `run()` serves both until a signal."""

    public_socket: socket.socket
    admin_socket: socket.socket
    public: Any
    admin: Any
    background: list[Any] = field(default_factory=list)  # coroutine factories (callbacks)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Serve both sides in a background thread (returns at once)."""
        if self._thread is not None:
            return
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            ready.set()
            tasks = [asyncio.create_task(make()) for make in self.background]
            try:
                await asyncio.gather(
                    self.public.serve([self.public_socket]),
                    self.admin.serve([self.admin_socket]),
                )
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), name="web", daemon=True)
        self._thread.start()
        ready.wait(STOP_WAIT_S)

    def run(self) -> None:
        """Serve both until KeyboardInterrupt/SystemExit (a signal, see `run_until_stopped`)."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop both servers (open requests finish within a few seconds), close the sockets."""
        for server in (self.public, self.admin):
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            if self._thread.is_alive():
                for server in (self.public, self.admin):
                    server.force_exit = True
                self._thread.join(STOP_WAIT_S)
        for sock in (self.public_socket, self.admin_socket):
            sock.close()

    @property
    def admin_url(self) -> str:
        """The private side's base URL (its real port when asked for port 0)."""
        return _url(self.admin_socket)

    @property
    def public_url(self) -> str:
        """The public side's base URL."""
        return _url(self.public_socket)


def make_web_servers(
    rt: Runtime,
    public: tuple[str, int],
    admin: tuple[str, int],
    *,
    carry_out: CarryOut,
    max_body: int | None = None,
    celery: Any = None,
    api_runtime: Runtime | None = None,
) -> WebServers:
    """Bind both sides (raises OSError naming neither when a port is taken: callers say which).

    `carry_out` (the app's dispatcher's) carries out what TTAPI's callbacks' steps return. With
    `celery`
    (`worker.adapter.api_jobs.CeleryJobs`), the public side serves the HTTP API and this
    process sends its callbacks, over `api_runtime` (`api_runtime_of`) if given.
    """
    import uvicorn
    from a2wsgi import WSGIMiddleware

    from worker.api.limits import BodyLimit
    from worker.webhook.receiver import MAX_BODY, create_wsgi_app

    limit = max_body or MAX_BODY
    hooks_wsgi: Any = create_wsgi_app(rt, carry_out, max_body=limit)
    hooks = WSGIMiddleware(hooks_wsgi, workers=PUBLIC_THREADS)
    api_app, background = None, []
    if celery is not None:
        from worker.api.app import create_api_app
        from worker.api.callbacks import CallbackSender
        from worker.api.core import Api

        api = Api.build(api_runtime or rt, celery)
        api_app = create_api_app(api)
        background.append(CallbackSender(api).run)
    public_app = BodyLimit(
        PublicSide(hooks, api_app), inline_max=rt.settings.mj_inline_image_max_bytes
    )
    admin_wsgi: Any = create_admin_app(OpsView.on(rt.settings, rt.redis))
    admin_app = WSGIMiddleware(admin_wsgi, workers=ADMIN_THREADS)
    public_socket = _bind(*public)
    try:
        admin_socket = _bind(*admin)
    except OSError:
        public_socket.close()
        raise

    def server(app: Any) -> Any:
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        return uvicorn.Server(config)

    return WebServers(
        public_socket, admin_socket, server(public_app), server(admin_app), background
    )


def api_runtime_of(rt: Runtime) -> Runtime:
    """The HTTP API's own Runtime: a Redis client that rides out a restart for about 5 s
    (`API_REDIS_RETRIES`) before the caller is answered 503, where the webhook receiver's
    rides out half a minute (TTAPI's callbacks are not retried by a person)."""
    from worker.jobs.runtime import redis_client
    from worker.policy import API_REDIS_RETRIES

    client = redis_client(rt.settings, retries=API_REDIS_RETRIES)
    return Runtime.build(rt.settings, client)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{_host(host)}:{port}/"


def exposed_without_auth(host: str, settings: Any) -> bool:
    """Whether the private side listens beyond loopback with no MJ_ADMIN_AUTH."""
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    return not loopback and settings.mj_admin_auth is None


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


__all__ = ["WebServers", "api_runtime_of", "exposed_without_auth", "make_web_servers"]
