"""The `mjw` commands that send one pipeline (`submit`, `video`, `edit`) or re-attach to one
(`wait`), and how they follow it live. Each checks its input before anything is sent."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from worker.cli.errors import Interrupted, JobError, UsageError
from worker.cli.reach import connect


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
    from worker.ttapi.kinds import check_inline_sizes

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
        1,
        text,
        data,
        then=args.then or [],
        mode=getattr(args, "mode", None),
        caller=caller_args(args),
    )
    if isinstance(row, BadRow):
        raise UsageError(row.error.removeprefix("line 1: "))
    if args.account:
        row.options["account"] = args.account
    return row


def caller_args(args: argparse.Namespace) -> dict[str, str]:
    """The command's --tenant and --priority, as task keyword arguments."""
    return {k: v for k in ("tenant", "priority") if (v := getattr(args, k, None)) is not None}


def _send(row: Any, args: argparse.Namespace) -> int:
    from worker.cli.batch_run import build_chain
    from worker.cli.wait import remember_chain, steps_of

    app = connect()
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

    app = connect()
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


__all__ = ["caller_args", "cmd_edit", "cmd_submit", "cmd_video", "cmd_wait"]
