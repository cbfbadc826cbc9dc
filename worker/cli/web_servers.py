"""`mjw web`: both sides of the web process, under one waitress event loop.

- public, on `PORT` (all interfaces by default): TTAPI's callbacks (`/hook/<token>`) and a
  plain `/healthz` (this process and Redis), 404 to the rest;
- private, on `MJ_ADMIN_BIND` (loopback by default): the operator page, `/api/`, `/metrics`
  and `/healthz` with details (`worker.ops.admin`).

Both servers share one socket map, so one loop in the main thread serves both (each has its
own threads: 8 for callbacks, 4 for the private side, whose page polls a short fragment every
few seconds rather than holding a stream open). Both refuse request bodies over 1 MiB.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from worker.jobs.runtime import Runtime
from worker.ops.admin import create_admin_app
from worker.ops.view import OpsView

log = logging.getLogger(__name__)
PUBLIC_THREADS, ADMIN_THREADS = 8, 4


@dataclass
class WebServers:
    """The two bound servers and the socket map they share; `run()` serves both."""

    public: Any
    admin: Any
    socket_map: dict[int, Any]

    def run(self) -> None:
        """Serve both until KeyboardInterrupt/SystemExit (the public server's loop)."""
        self.public.run()

    def close(self) -> None:
        """Stop both servers' threads and close every socket."""
        from waitress import wasyncore

        for server in (self.public, self.admin):
            server.task_dispatcher.shutdown()
        wasyncore.close_all(self.socket_map)

    @property
    def admin_url(self) -> str:
        """The private side's base URL (its real port when asked for port 0)."""
        return f"http://{_host(self.admin.effective_host)}:{self.admin.effective_port}/"

    @property
    def public_url(self) -> str:
        """The public side's base URL."""
        return f"http://{_host(self.public.effective_host)}:{self.public.effective_port}/"


def make_web_servers(
    rt: Runtime, public: tuple[str, int], admin: tuple[str, int], *, max_body: int | None = None
) -> WebServers:
    """Bind both sides (raises OSError naming neither when a port is taken: callers say which)."""
    import waitress

    from worker.webhook.receiver import MAX_BODY, create_wsgi_app

    limit = max_body or MAX_BODY
    shared: dict[int, Any] = {}

    def serve(app: Any, where: tuple[str, int], threads: int, ident: str) -> Any:
        return waitress.create_server(
            app,
            map=shared,
            host=where[0],
            port=where[1],
            threads=threads,
            max_request_body_size=limit,
            ident=ident,
        )

    public_server = serve(create_wsgi_app(rt, max_body=limit), public, PUBLIC_THREADS, "mj-webhook")
    try:
        admin_app = create_admin_app(OpsView.on(rt.settings, rt.redis))
        admin_server = serve(admin_app, admin, ADMIN_THREADS, "mj-admin")
    except OSError:
        public_server.task_dispatcher.shutdown()
        public_server.close()
        raise
    return WebServers(public_server, admin_server, shared)


def exposed_without_auth(host: str, settings: Any) -> bool:
    """Whether the private side listens beyond loopback with no MJ_ADMIN_AUTH."""
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    return not loopback and settings.mj_admin_auth is None


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


__all__ = ["WebServers", "exposed_without_auth", "make_web_servers"]
