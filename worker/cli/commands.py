"""`mjw`: the command line of mj-worker (submit, video, edit, wait, batch, status, jobs, show,
metrics, web, webhook, simulator, demo).

Thin commands: each validates its input first (nothing is sent when an argument is wrong),
then builds the Celery app and checks Redis within 2 s (`worker.cli.reach`), then hands over
to the module that does the work. Every error is one line on stderr with the exit code of its
class (`worker.cli.errors.ERRORS`): 2 usage/configuration, 1 job/runtime, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from worker.cli.errors import EXIT_ERROR, Interrupted, JobError, UsageError, classify
from worker.cli.look import cmd_jobs, cmd_show, cmd_status
from worker.cli.parser import Handler, build_parser, simulator_parser
from worker.cli.reach import check_redis, connect
from worker.cli.send import caller_args, cmd_edit, cmd_submit, cmd_video, cmd_wait


def cmd_batch(args: argparse.Namespace) -> int:
    """Run every line of a batch file as a pipeline; results as JSON lines; resumable."""
    from worker.cli.batch import read_batch, unknown_actions
    from worker.cli.batch_run import run_batch

    bad_actions = unknown_actions(args.then or [])
    if bad_actions:
        raise UsageError(bad_actions)
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"batch file not found: {path}")
    rows = read_batch(path, then=args.then or [], mode=args.mode, caller=caller_args(args))
    out = Path(args.out or path.with_suffix(".results.jsonl"))
    app = connect()
    try:
        summary = run_batch(
            app,
            rows,
            out,
            download=args.download,
            concurrency=args.concurrency_hint,
            retry_failed=args.retry_failed,
        )
    except KeyboardInterrupt:
        again = shlex.join(["mjw", *args.argv])
        raise Interrupted(
            "interrupted: the sent pipelines go on in the workers; to re-attach "
            f"(nothing is sent twice), run the same command again: {again}"
        ) from None
    for entry in sorted(summary.failures, key=lambda e: int(e.get("line") or 0)):
        earlier = "failed in an earlier run: " if entry.get("earlier") else ""
        reason = " ".join(str(entry.get("error") or entry.get("status") or "failed").split())
        print(f"line {entry.get('line')}: {earlier}{reason}", file=sys.stderr)
    retried = f", {summary.retried} retried" if summary.retried else ""
    before = (
        f", {summary.failed_before} failed before (--retry-failed resends)"
        if summary.failed_before
        else ""
    )
    print(
        f"{summary.done} done, {summary.failed} failed{before}, "
        f"{summary.skipped - summary.failed_before} already done "
        f"({summary.reattached} re-attached{retried}); results in {out}",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_ERROR if summary.any_failed else 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """Print the Prometheus metrics once; with --port, serve /metrics and /healthz."""
    from worker.ops import prometheus
    from worker.ops.http import make_metrics_server, run_until_stopped
    from worker.ops.view import OpsView

    rt = connect().runtime
    if args.port is None:
        view = OpsView.on(rt.settings, rt.redis)
        sys.stdout.write(prometheus.render(prometheus.registry_for(view)).decode())
        return 0
    try:
        server = make_metrics_server(rt, args.host, args.port)
    except OSError as exc:
        raise JobError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"metrics on http://{args.host}:{server.effective_port}/metrics", flush=True)
    run_until_stopped(server)
    return 0


def cmd_webhook(args: argparse.Namespace) -> int:
    """Run the webhook receiver, once Redis answers."""
    from worker.webhook import serve as webhook_cli

    connect()
    return webhook_cli.run(args)


def cmd_web(args: argparse.Namespace) -> int:
    """Run the web process (both sides), once Redis answers."""
    from worker.cli import web as web_cli

    connect()
    return web_cli.run(args)


def cmd_tokens(args: argparse.Namespace) -> int:
    """Create, list or revoke the HTTP API's tokens."""
    from worker.api.tokens import TENANT
    from worker.cli import tokens as tokens_cli

    if args.tokens_command == "create" and not TENANT.fullmatch(args.tenant):
        raise UsageError("TENANT: 1-64 of A-Z a-z 0-9 _ . - are allowed")
    return tokens_cli.run(args, connect().runtime)


def cmd_simulator(args: argparse.Namespace) -> int:
    """Run the local TTAPI simulator (no Redis needed)."""
    from worker.devtools.simulator import cli as sim_cli

    return int(sim_cli.run(args))


def cmd_demo(args: argparse.Namespace) -> int:
    """Start everything locally and run a small batch of pipelines."""
    from worker.cli.demo import run_demo

    if os.environ.get("REDIS_URL"):  # without it the demo starts its own redis-server
        check_redis(os.environ["REDIS_URL"])
    return run_demo(pipelines=args.pipelines, fast_s=args.fast, keep=args.keep, out=Path(args.out))


COMMANDS: dict[str, Handler] = {
    "submit": cmd_submit,
    "video": cmd_video,
    "edit": cmd_edit,
    "wait": cmd_wait,
    "batch": cmd_batch,
    "status": cmd_status,
    "metrics": cmd_metrics,
    "simulator": cmd_simulator,
    "webhook": cmd_webhook,
    "web": cmd_web,
    "tokens": cmd_tokens,
    "jobs": cmd_jobs,
    "show": cmd_show,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mjw` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simulator"]:  # its own parser: the simulator loads only when it runs
        args = simulator_parser().parse_args(argv[1:])
        args.command, args.func = "simulator", cmd_simulator
    else:
        args = build_parser(COMMANDS).parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as exc:  # every error: one line, no traceback
        code, message = classify(exc)
        print(f"mjw {args.command}: {message}", file=sys.stderr, flush=True)
        return code
