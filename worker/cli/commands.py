"""`mjw`: the command line of mj-worker (submit, video, edit, wait, batch, status, jobs, show,
metrics, web, webhook, simulator, demo).

Thin commands: each validates its input first (nothing is sent when an argument is wrong),
then builds the Celery app and checks Redis within 2 s (`worker.cli.reach`), then hands over
to the module that does the work. Every error is one line on stderr with the exit code of its
class (`worker.cli.errors.ERRORS`): 2 usage/configuration, 1 job/runtime, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from worker.cli.errors import EXIT_ERROR, Interrupted, JobError, UsageError, classify
from worker.cli.look import cmd_jobs, cmd_show, cmd_status
from worker.cli.parser import Handler, build_parser, simulator_parser
from worker.cli.reach import check_redis


def _connect() -> Any:
    """The Celery app (the edge where settings and clients are built), with Redis checked."""
    from worker.adapter import patches
    from worker.adapter.app import app

    patches.for_publisher()
    check_redis(app.mj_settings.redis_target())
    return app


def cmd_submit(args: argparse.Namespace) -> int:
    """Send one pipeline; print its task id; with --wait/--json, follow it to its result."""
    return _send(_row(args, {"prompt": args.prompt}), args)


def cmd_video(args: argparse.Namespace) -> int:
    """Send image-to-video (and follow-ups) like `submit`."""
    data = {
        "kind": "video",
        "prompt": args.prompt,
        "image": args.image,
        "end_image": args.end_image,
        "motion": args.motion,
        "resolution": args.resolution,
        "batch": args.batch,
    }
    return _send(_row(args, data), args)


def cmd_edit(args: argparse.Namespace) -> int:
    """Send an image edit (and follow-ups) like `submit`; a local file travels inline."""
    from config.settings import load_settings
    from worker.cli.inline import image_argument
    from worker.ttapi.requests import check_inline_sizes

    image = image_argument(args.image)
    data = {"kind": "edit", "prompt": args.prompt, "image": image}
    data["type"] = "retexture" if args.retexture else "edit"
    row = _row(args, data)
    check_inline_sizes("edit", row.options, load_settings().mj_inline_image_max_bytes)
    return _send(row, args)


def _row(args: argparse.Namespace, data: dict[str, Any]) -> Any:
    """The command's one pipeline as a batch row, checked before anything is sent."""
    from worker.cli.batch import BadRow, make_row

    text = str(data.get("prompt") or "")
    row = make_row(
        1, text, data, then=args.then or [], mode=getattr(args, "mode", None), caller=_caller(args)
    )
    if isinstance(row, BadRow):
        raise UsageError(row.error.removeprefix("line 1: "))
    if args.account:
        row.options["account"] = args.account
    return row


def _caller(args: argparse.Namespace) -> dict[str, str]:
    """The command's --tenant and --priority, as task keyword arguments."""
    return {k: v for k in ("tenant", "priority") if (v := getattr(args, k, None)) is not None}


def _send(row: Any, args: argparse.Namespace) -> int:
    from worker.cli.batch_run import build_chain
    from worker.cli.wait import remember_chain, steps_of

    app = _connect()
    sig = build_chain(app, row, args.download)
    sig.freeze()
    steps = steps_of(sig)
    rt = app.runtime
    remember_chain(rt.redis, steps, rt.settings.mj_result_expires_s, keys=rt.keys)
    sig.apply_async()
    try:
        if not args.json:
            print(steps[-1].id, flush=True)
        if not (args.wait or args.json):
            return 0
        return _watch(app, steps, args)
    except KeyboardInterrupt:
        raise Interrupted(
            "interrupted: the pipeline goes on in the workers; "
            f"re-attach with: mjw wait {steps[-1].id}"
        ) from None


def cmd_wait(args: argparse.Namespace) -> int:
    """Re-attach to the pipeline a task id belongs to; print its result."""
    from worker.cli.results import PENDING, ResultReader
    from worker.cli.wait import chain_of

    app = _connect()
    rt = app.runtime
    steps = chain_of(rt.redis, args.task_id, keys=rt.keys)
    if (
        len(steps) == 1
        and not steps[0].name
        and rt.records.load(args.task_id) is None
        and ResultReader(app.backend).read([args.task_id]) == [PENDING]
    ):
        print(
            f"mjw wait: task {args.task_id} is not known yet (not started, or not a task "
            "id); waiting, Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
    return _watch(app, steps, args)


def _watch(app: Any, steps: list[Any], args: argparse.Namespace) -> int:
    from worker.cli.results import ResultReader
    from worker.cli.wait import failure_text, follow, result_document, result_lines

    outcome = follow(
        steps,
        ResultReader(app.backend),
        app.runtime.records,
        Console(stderr=True),
        timeout=args.timeout,
    )
    if args.json:
        print(json.dumps(result_document(steps, outcome), indent=2, default=str), flush=True)
    if not outcome.meta.ok:
        raise JobError(failure_text(outcome))
    if not args.json:
        out = Console(soft_wrap=True)
        for line in result_lines(outcome.meta.value):
            out.print(line, markup=False, highlight=False)
    return 0


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
    rows = read_batch(path, then=args.then or [], mode=args.mode, caller=_caller(args))
    out = Path(args.out or path.with_suffix(".results.jsonl"))
    app = _connect()
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

    rt = _connect().runtime
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

    _connect()
    return webhook_cli.run(args)


def cmd_web(args: argparse.Namespace) -> int:
    """Run the web process (both sides), once Redis answers."""
    from worker.cli import web as web_cli

    _connect()
    return web_cli.run(args)


def cmd_tokens(args: argparse.Namespace) -> int:
    """Create, list or revoke the HTTP API's tokens."""
    from worker.api.tokens import TENANT
    from worker.cli import tokens as tokens_cli

    if args.tokens_command == "create" and not TENANT.fullmatch(args.tenant):
        raise UsageError("TENANT: 1-64 of A-Z a-z 0-9 _ . - are allowed")
    return tokens_cli.run(args, _connect().runtime)


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
