"""`mjw web`: the web process, both sides (`worker.cli.web_servers`): the webhook receiver, a
public `/healthz` and the HTTP API (`/v1/`, `/mj/`) on `PORT`, the operator page, `/api/`,
`/metrics` and detailed `/healthz` on `MJ_ADMIN_BIND`. Runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from config.settings import ConfigError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `mjw web`."""
    parser.add_argument(
        "--host", default="0.0.0.0", help="public interface (default: 0.0.0.0; TTAPI calls it)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="public port (default: $PORT, else 8000)"
    )
    parser.add_argument(
        "--admin",
        metavar="HOST:PORT",
        default=None,
        help="private side (default: $MJ_ADMIN_BIND, else 127.0.0.1:8001)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve both sides; 0 on a clean stop, 2 on bad configuration, 1 if a port is taken."""
    from worker.adapter.logs import configure_logging
    from worker.cli.web_servers import api_runtime_of, exposed_without_auth, make_web_servers
    from worker.ops.http import run_until_stopped

    try:
        from worker.adapter import patches
        from worker.adapter.api_jobs import CeleryJobs
        from worker.adapter.app import app

        patches.for_publisher()
        settings = load_settings(mj_admin_bind=args.admin) if args.admin else app.mj_settings
        configure_logging(settings)
        rt = app.runtime
    except ConfigError as exc:
        print(f"mjw web: {exc}", file=sys.stderr)
        return 2
    public = (args.host, args.port if args.port is not None else settings.port)
    admin = settings.admin_address()
    try:
        api_rt = api_runtime_of(rt)
        carry_out = app.dispatcher.carry_out
        servers = make_web_servers(
            rt,
            public,
            admin,
            carry_out=carry_out,
            celery=CeleryJobs(app, carry_out=carry_out),
            api_runtime=api_rt,
        )
    except OSError as exc:
        print(
            f"mjw web: cannot listen on {public[0]}:{public[1]} or {admin[0]}:{admin[1]} "
            f"(MJ_ADMIN_BIND): {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    print(
        f"webhook receiver on {servers.public_url}hook/... (and /healthz; "
        f"the HTTP API under /v1/ and /mj/, spec at {servers.public_url}v1/openapi.json)",
        flush=True,
    )
    print(f"operator page on {servers.admin_url} (/api/, /metrics, /healthz)", flush=True)
    if exposed_without_auth(admin[0], settings):
        print(
            f"mjw web: note: the private side listens on {admin[0]} without MJ_ADMIN_AUTH; "
            "publish it to a private network only",
            file=sys.stderr,
            flush=True,
        )
    run_until_stopped(servers)
    return 0


__all__ = ["add_arguments", "run"]
