"""`mjw webhook`: run the webhook receiver under waitress until SIGINT or SIGTERM.

The Runtime (settings, Redis) and the dispatcher that carries effects out come from the Celery app,
so the receiver reads the same environment variables as the workers it wakes.
"""

from __future__ import annotations

import argparse
import sys

from config.settings import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `mjw webhook`."""
    parser.add_argument(
        "--host", default="0.0.0.0", help="interface to listen on (default: 0.0.0.0)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: $PORT, else 8000)"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad configuration, 1 if not bound."""
    from worker.adapter.logs import configure_logging
    from worker.ops.http import run_until_stopped
    from worker.webhook.receiver import make_server

    try:
        from worker.adapter import patches
        from worker.adapter.app import app

        configure_logging(app.mj_settings)
        patches.for_publisher()
        rt = app.runtime
    except ConfigError as exc:
        print(f"mjw webhook: {exc}", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else rt.settings.port
    try:
        server = make_server(rt, app.dispatcher.carry_out, args.host, port)
    except OSError as exc:
        print(f"mjw webhook: cannot listen on {args.host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    base = rt.settings.mj_hook_base_url
    hooks = (
        f"{base}/hook/..."
        if base
        else "MJ_HOOK_BASE_URL/hook/...; MJ_HOOK_BASE_URL is not set, so submits carry no hookUrl"
    )
    print(
        f"webhook receiver on http://{args.host}:{server.effective_port} (hooks under {hooks})",
        flush=True,
    )
    run_until_stopped(server)
    return 0


__all__ = ["add_arguments", "run"]
