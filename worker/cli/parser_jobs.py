"""The `mjw` commands that send a pipeline (`submit`, `video`, `edit`) and their shared options.

Part of the parser (`worker.cli.parser`); the handlers are `worker.cli.commands`'.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from config.tenants import PRIORITIES
from worker.jobs.steps import SYNTAX, examples_after
from worker.ttapi.requests import ACTIONS, MODES

THEN_HELP = (
    "a follow-up step (repeatable), e.g. --then upsample2 --then video:high: an action ("
    + ", ".join(ACTIONS)
    + f"), or {SYNTAX} with OPTIONS such as low|high (motion), sd|hd, 0-3 (index), "
    "batch=1|2|4, auto|manual (extend)"
)


def add_job_commands(command: Callable[..., Any]) -> None:
    """Add submit, video and edit through `command(name, help, description)`."""
    p = command(
        "submit",
        "send one prompt (and follow-ups: actions, video)",
        "Send PROMPT as imagine → STEP → ... and print the final task's id.",
    )
    p.add_argument("prompt", metavar="PROMPT")
    p.add_argument("--mode", choices=MODES, help="speed mode")
    _sending(p)

    p = command(
        "video",
        "turn an image into clips of about 5 s (mj.video)",
        "Send image-to-video from IMAGE_URL (a public URL), then any --then steps (e.g. "
        f"{examples_after('video')}), and print the final task's id.",
    )
    p.add_argument("image", metavar="IMAGE_URL")
    p.add_argument("--prompt", required=True, help="what moves, and how")
    p.add_argument("--end-image", metavar="URL", help="the last frame (a public URL)")
    p.add_argument("--motion", choices=("low", "high"), default="low", help="(default: low)")
    p.add_argument("--resolution", choices=("sd", "hd"), default="sd", help="(default: sd)")
    p.add_argument(
        "--batch", type=int, choices=(1, 2, 4), default=4, help="clips per job (default: 4)"
    )
    _sending(p)

    p = command(
        "edit",
        "redraw an image's transparent areas, or retexture it (mj.edit)",
        "Send an image edit of IMAGE (a URL, a data URI or a local png/jpg/webp/bmp file, "
        "sent inline), then any --then steps, and print the final task's id.",
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--prompt", required=True, help="what to draw")
    p.add_argument(
        "--retexture", action="store_true", help="restyle the whole image (type=retexture)"
    )
    p.add_argument("--mode", choices=MODES, help="speed mode")
    _sending(p)


def _sending(p: argparse.ArgumentParser) -> None:
    """The options every command that sends a pipeline shares (submit, video, edit)."""
    p.add_argument("--then", action="append", metavar="STEP", help=THEN_HELP)
    p.add_argument("--account", help="pin an account label (default: least loaded)")
    add_caller_options(p, default_priority="normal")
    p.add_argument("--wait", action="store_true", help="follow each step live, print the URLs")
    p.add_argument(
        "--json",
        action="store_true",
        help="wait, then print the last step's job result as JSON (implies --wait)",
    )
    p.add_argument("--download", metavar="DIR", help="also store the final files in DIR")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait: stop watching after SECONDS (the jobs go on)",
    )


def add_caller_options(p: argparse.ArgumentParser, *, default_priority: str) -> None:
    """`--tenant` and `--priority`: who asks, and how urgent it is (MJ_TENANTS)."""
    p.add_argument("--tenant", help="who asks (default: default); its MJ_TENANTS settings apply")
    p.add_argument(
        "--priority",
        choices=PRIORITIES,
        default=default_priority,
        help=f"which freed places it gets first (default: {default_priority})",
    )
