"""`mjw status`, `mjw jobs`, `mjw show`: looking at the system, from Redis alone.

None of them needs a TTAPI key or sends anything: they read Redis through an `OpsView` (short
timeouts, no retries) once `worker.cli.reach` has checked it answers. `status` asks TTAPI's
`/info` for balances only where keys are configured (and not `--no-info`).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console

from worker.cli.errors import JobError, UsageError
from worker.cli.reach import check_redis


def _view() -> Any:
    """An OpsView on REDIS_URL once Redis answers: reads only, no TTAPI key needed."""
    from config.settings import load_settings
    from worker.ops.view import OpsView

    settings = load_settings()
    check_redis(settings.redis_target())
    return OpsView.from_url(settings)


def cmd_status(args: argparse.Namespace) -> int:
    """Show accounts (slots, waiters, 429/499, balance), queues, workers, the pump."""
    from rich.live import Live

    from worker.cli.status import as_json, render, status_document

    view = _view()
    info_of = None
    if view.configured and not args.no_info:
        from worker.adapter.app import app

        pool = app.runtime.pool
        info_of = lambda label: pool.client(label).info().balance  # noqa: E731
    doc = status_document(view, info_of, tenants=args.tenants)
    if not args.watch:
        if args.json:
            print(as_json(doc), flush=True)
        else:
            Console().print(render(doc))
        return 0
    if args.json:
        raise UsageError("--watch shows tables; leave out --json")
    with Live(render(doc), console=Console(), auto_refresh=False, screen=False) as live:
        while True:  # until Ctrl-C; /info is asked once, then the stored balances show
            time.sleep(max(0.2, args.interval))
            live.update(render(status_document(view, tenants=args.tenants)), refresh=True)


def cmd_jobs(args: argparse.Namespace) -> int:
    """List waiting, in-flight, recently ended or failed jobs."""
    from worker.cli.jobs import listing_table
    from worker.ops.jobs import KINDS, listing

    view = _view()
    kinds = [args.kind] if args.kind else list(KINDS)
    now = view.now()
    found = {k: listing(view, k, now, account=args.account, limit=args.limit) for k in kinds}
    if args.json:
        print(json.dumps(found if not args.kind else found[args.kind], indent=2), flush=True)
        return 0
    console = Console()
    for kind, rows in found.items():
        console.print(listing_table(kind, rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Show one job in full."""
    from worker.cli.jobs import show_view
    from worker.ops.show import show

    doc = show(_view(), args.job_id)
    if doc is None:
        raise JobError(f"no record of job {args.job_id} (never created here, or expired)")
    if args.json:
        print(json.dumps(doc, indent=2, default=str), flush=True)
    else:
        Console(soft_wrap=True).print(show_view(doc))
    return 0
