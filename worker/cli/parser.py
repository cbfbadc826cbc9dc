"""The `mjw` argument parser: every sub-command, its options and its `--help`.

Handlers are passed in by name (`worker.cli.commands.COMMANDS`), so this module only describes the
command line. A usage error is one line on stderr and exit code 2, as every other error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from worker.cli import tokens as tokens_cli
from worker.cli import web as web_cli
from worker.cli.parser_jobs import THEN_HELP, add_caller_options, add_job_commands
from worker.ttapi.requests import MODES
from worker.webhook import serve as webhook_cli

Handler = Callable[[argparse.Namespace], int]
SIMULATOR_HELP = "run the local TTAPI simulator"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`mjw submit: ... (see mjw submit --help)`)."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with code 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def package_version() -> str:
    """The installed version of mj-worker (`importlib.metadata`)."""
    try:
        return version("mj-worker")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(handlers: Mapping[str, Handler]) -> Parser:
    """The `mjw` parser; each sub-command's `func` is `handlers[name]`."""
    parser = Parser(
        prog="mjw", description="mj-worker: TTAPI Midjourney pipelines on Celery + Redis."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> Parser:
        p: Parser = sub.add_parser(name, help=help, description=description or help)
        p.set_defaults(func=handlers[name])
        return p

    add_job_commands(command)

    p = command(
        "wait",
        "re-attach to a task or pipeline and wait for its result",
        "Follow the pipeline TASK_ID belongs to (any step's id, as printed by "
        "mjw submit) until it ends; print its result. Sends nothing.",
    )
    p.add_argument("task_id", metavar="TASK_ID")
    p.add_argument("--json", action="store_true", help="print the job result as JSON")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop watching after SECONDS (exit 1; the jobs go on)",
    )

    p = command(
        "batch",
        "run a file of prompts as pipelines (resumable)",
        "One prompt per line, or JSON lines with per-row options "
        '({"prompt": ..., "then": [...], "mode": ...}; "kind": "video" or "edit" with '
        '"image" and their options start other jobs). Rerun the same command to '
        "resume: finished rows are skipped, sent ones re-attached; an edited line is "
        "a new row.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--then", action="append", metavar="STEP", help=THEN_HELP)
    p.add_argument("--mode", choices=MODES, help="default speed mode")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="results (JSON lines); rerun to resume (default: FILE.results.jsonl)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="re-send rows that failed before, with fresh task ids",
    )
    p.add_argument(
        "--concurrency-hint",
        type=int,
        metavar="N",
        help="at most N pipelines sent at a time (default: all)",
    )
    p.add_argument("--download", metavar="DIR", help="also store every final image in DIR")
    add_caller_options(p, default_priority="low")

    p = command(
        "status",
        "per-account slots, waiters, 429/499, balance; queues, workers, the pump",
        "Read from Redis (no TTAPI key needed): per account, slots in use / effective / cap, "
        "waiting jobs, 429/499 in the last 5 minutes, rotation; queue depths, workers online "
        "per queue, the pump's age, ok or degraded and why. With keys configured, balances "
        "are asked from TTAPI's /info live unless --no-info.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-info", action="store_true", help="do not ask TTAPI's /info live")
    p.add_argument(
        "--tenants",
        action="store_true",
        help="also per tenant: in progress, waiting, recent share, today's jobs, ended",
    )
    p.add_argument("--watch", action="store_true", help="refresh in place until Ctrl-C")
    p.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="with --watch: seconds (2)"
    )

    p = command(
        "metrics",
        "print the Prometheus metrics, or serve /metrics and /healthz",
        "Without --port: print every mj_* metric once (read from Redis). With --port: serve "
        "GET /metrics and GET /healthz until SIGINT or SIGTERM.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default: 127.0.0.1; /metrics names accounts and balances)",
    )
    p.add_argument("--port", type=int, help="serve on this port (0 picks a free one)")

    # Only named here: `mjw simulator ...` is parsed by the simulator's own parser
    # (`simulator_parser`), so nothing of the simulator is imported unless it runs.
    command("simulator", SIMULATOR_HELP, SIMULATOR_HELP)

    p = command(
        "webhook",
        "run the webhook receiver (TTAPI hookUrl callbacks)",
        "Receives TTAPI's hookUrl callbacks and ends jobs at once.",
    )
    webhook_cli.add_arguments(p)

    p = command(
        "web",
        "run the web process: webhooks and the HTTP API on PORT, the page on MJ_ADMIN_BIND",
        "Serves TTAPI's callbacks, a plain /healthz and the HTTP API (/v1/, /mj/, behind "
        "tokens) on the public port, and the operator "
        "page, its JSON (/api/), /metrics and a detailed /healthz on the private side "
        "(MJ_ADMIN_BIND, loopback by default; MJ_ADMIN_AUTH adds basic auth).",
    )
    web_cli.add_arguments(p)

    p = command(
        "tokens",
        "the HTTP API's tokens: create TENANT, list, revoke ID",
        "A token acts for one tenant on the public side's /v1/ and /mj/ routes; create prints "
        "it and its webhook secret once (Redis keeps only the token's hash).",
    )
    tokens_cli.add_arguments(p)

    p = command(
        "jobs",
        "list jobs: waiting, in flight, recently ended or failed",
        "Jobs read from Redis: --waiting (parked, with position and age), --active (holding "
        "a slot, with progress), --recent (ended), --failed (failed or revoked, with why); "
        "all four without an option.",
    )
    which = p.add_mutually_exclusive_group()
    for kind, text in (
        ("waiting", "parked jobs, in order"),
        ("active", "jobs holding a slot"),
        ("recent", "jobs that ended, newest first"),
        ("failed", "jobs that failed or were revoked, newest first"),
    ):
        which.add_argument(f"--{kind}", dest="kind", action="store_const", const=kind, help=text)
    p.set_defaults(kind=None)
    p.add_argument("--account", help="one account's jobs only (a label)")
    p.add_argument("--limit", type=int, default=50, help="at most N jobs a list (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command(
        "show",
        "one job in full: record, steps, TTAPI id, account, timings, URLs, error",
        "Everything Redis knows about a job (its Celery task id).",
    )
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command(
        "demo",
        "run everything locally on a small batch",
        "Embedded Redis, simulator, worker and webhook receiver; "
        "runs imagine → upsample2 → upscale_creative pipelines.",
    )
    p.add_argument("--pipelines", type=int, default=6, help="how many pipelines (default 6)")
    p.add_argument(
        "--fast", type=float, default=2.0, help="simulated seconds of a fast imagine (default 2)"
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave everything running afterwards (operator page, mjw commands) until Ctrl-C",
    )
    p.add_argument(
        "--out", default="mj-demo", metavar="DIR", help="where the final images go (./mj-demo)"
    )
    return parser


def simulator_parser() -> Parser:
    """`mjw simulator`'s parser: the simulator's options (imports the simulator's CLI)."""
    from worker.devtools.simulator import cli as sim_cli

    parser = Parser(
        prog="mjw simulator",
        description="A faithful local TTAPI for demos, tests and benchmarks.",
    )
    sim_cli.add_arguments(parser)
    return parser
