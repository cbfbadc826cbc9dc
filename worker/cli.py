"""`mjw`: the command line of mj-worker (submit, batch, status, simulator, webhook, demo).

Every command has `--help`; every error is one clear line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _app() -> Any:
    from worker.celery_app import app

    return app


def cmd_submit(args: argparse.Namespace) -> int:
    """Send one pipeline; print its task id; with --wait, follow every step live."""
    from worker.batch import BadRow, parse_line
    from worker.batch_run import _ids, build_chain

    app = _app()
    row = parse_line(1, args.prompt, then=args.then or [], mode=args.mode)
    if isinstance(row, BadRow):
        raise UsageError(row.error.removeprefix("line 1: "))
    if args.account:
        row.options["account"] = args.account
    sig = build_chain(app, row, args.download)
    final = sig.freeze()
    ids = _ids(sig)
    sig.apply_async()
    out = Console(soft_wrap=True)
    out.print(final.id)
    if not args.wait:
        return 0
    return _follow(app, ids, final, Console(stderr=True), out)


def _follow(app: Any, ids: list[str], final: Any, err: Console, out: Console) -> int:
    rt = app.runtime
    steps = [app.AsyncResult(i) for i in ids]

    def view() -> Table:
        table = Table(box=None)
        for col in ("step", "task", "state", "progress"):
            table.add_column(col)
        for n, res in enumerate(steps, 1):
            rec = rt.records.load(res.id)
            state = rec.state if rec else res.state
            progress = f"{rec.progress}%" if rec and rec.state == "SUBMITTED" else ""
            kind = (rec.params.get("action") or rec.kind) if rec else ""
            table.add_row(str(n), f"{kind} {res.id[:8]}", state, progress)
        return table

    with Live(view(), console=err, refresh_per_second=4) as live:
        while not final.ready():
            time.sleep(0.25)  # a terminal watching results; nothing waits inside a task
            live.update(view())
        live.update(view())
    if not final.successful():
        raise JobError(f"{type(final.result).__name__}: {final.result}")
    result = final.result
    out.print(f"{result['action']} {result['job_id']}: {result['image_url']}", markup=False)
    for url in result.get("images") or []:
        out.print(f"  {url}", markup=False)
    for f in result.get("files") or []:
        out.print(f"  saved {f['path']}", markup=False)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """Run every line of a batch file as a pipeline; results as JSON lines; resumable."""
    from worker.batch import read_batch
    from worker.batch_run import run_batch

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"batch file not found: {path}")
    rows = read_batch(path, then=args.then or [], mode=args.mode)
    out = Path(args.out or path.with_suffix(".results.jsonl"))
    summary = run_batch(_app(), rows, out, download=args.download,
                        concurrency=args.concurrency_hint)
    Console(stderr=True).print(
        f"{summary.done} done, {summary.failed} failed, {summary.skipped} already done "
        f"({summary.reattached} re-attached); results in {out}")
    return 0 if summary.failed == 0 else EXIT_ERROR


def cmd_status(args: argparse.Namespace) -> int:
    """Show each account's slots, waiters, recent 429/499 and balance."""
    from worker.status import account_status, print_status

    rt = _app().runtime
    rt.settings.require_accounts()
    print_status(account_status(rt, live=not args.no_info), as_json=args.json, console=Console())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start everything locally and run a small batch of pipelines."""
    from worker.demo import run_demo

    return run_demo(pipelines=args.pipelines, fast_s=args.fast)


class UsageError(Exception):
    """Bad arguments or input: exit code 2."""


class JobError(Exception):
    """A job ended in failure: exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    """The `mjw` argument parser with every sub-command."""
    from worker import webhook_cli
    from worker.simulator import cli as sim_cli

    parser = argparse.ArgumentParser(
        prog="mjw", description="mj-worker: TTAPI Midjourney pipelines on Celery + Redis.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("submit", help="send one prompt (and follow-up actions)",
                       description="Send PROMPT as imagine → ACTION → ... and print the task id.")
    p.add_argument("prompt", metavar="PROMPT")
    p.add_argument("--then", action="append", metavar="ACTION",
                   help="a follow-up action (repeatable), e.g. --then upsample2")
    p.add_argument("--mode", choices=["fast", "relax", "turbo"], help="speed mode")
    p.add_argument("--account", help="pin an account label (default: least loaded)")
    p.add_argument("--wait", action="store_true", help="follow each step live, print the images")
    p.add_argument("--download", metavar="DIR", help="also store the final images in DIR")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("batch", help="run a file of prompts as pipelines (resumable)",
                       description="One prompt per line, or JSON lines with per-row options "
                                   '({"prompt": ..., "then": [...], "mode": ...}).')
    p.add_argument("file", metavar="FILE")
    p.add_argument("--then", action="append", metavar="ACTION", help="follow-up (repeatable)")
    p.add_argument("--mode", choices=["fast", "relax", "turbo"], help="default speed mode")
    p.add_argument("--out", metavar="FILE", help="results (JSON lines); rerun to resume "
                                                 "(default: FILE.results.jsonl)")
    p.add_argument("--concurrency-hint", type=int, metavar="N",
                   help="at most N pipelines sent at a time (default: all)")
    p.add_argument("--download", metavar="DIR", help="also store every final image in DIR")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("status", help="per-account slots, waiters, 429/499, balance")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-info", action="store_true", help="do not ask TTAPI's /info live")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("simulator", help="run the local TTAPI simulator",
                       description="A faithful local TTAPI for demos, tests and benchmarks.")
    sim_cli.add_arguments(p)
    p.set_defaults(func=sim_cli.run)

    p = sub.add_parser("webhook", help="run the webhook receiver (TTAPI hookUrl callbacks)",
                       description="Receives TTAPI's hookUrl callbacks and ends jobs at once.")
    webhook_cli.add_arguments(p)
    p.set_defaults(func=webhook_cli.run)

    p = sub.add_parser("demo", help="run everything locally on a small batch",
                       description="Embedded Redis, simulator, worker and webhook receiver; "
                                   "runs imagine → upsample2 → upscale_creative pipelines.")
    p.add_argument("--pipelines", type=int, default=6, help="how many pipelines (default 6)")
    p.add_argument("--fast", type=float, default=2.0,
                   help="simulated seconds of a fast imagine (default 2)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mjw` console script."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    err = Console(stderr=True)
    try:
        return func(args)
    except KeyboardInterrupt:
        err.print("interrupted: jobs already sent go on in the workers; "
                  "rerun the same command to pick them up")
        return EXIT_INTERRUPTED
    except UsageError as exc:
        err.print(f"mjw {args.command}: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except Exception as exc:  # every other error: one line, no traceback
        err.print(f"mjw {args.command}: {_describe(exc)}", markup=False, soft_wrap=True)
        return EXIT_USAGE if type(exc).__name__ in ("ConfigError", "InvalidRequest") \
            else EXIT_ERROR


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name in ("ConnectionError", "OperationalError") or "Connection refused" in str(exc):
        return f"cannot reach Redis ({exc}); is REDIS_URL right and the server up?"
    return f"{name}: {exc}" if name not in ("JobError", "ConfigError") else str(exc)


if __name__ == "__main__":
    sys.exit(main())
