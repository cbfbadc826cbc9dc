"""`mjw simulator`: run the local TTAPI simulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from config.settings import account_label
from worker.devtools.simulator.cli_options import add_runtime_arguments, faults_from, non_negative
from worker.devtools.simulator.config import SimConfig
from worker.devtools.simulator.simulator import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the simulator's options on `parser`."""
    default_keys = os.environ.get("TTAPI_API_KEYS") or os.environ.get("TTAPI_API_KEY") or ""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8787, help="port; 0 picks a free one")
    parser.add_argument(
        "--keys",
        default=default_keys,
        help="comma-separated API keys the simulator accepts (default: $TTAPI_API_KEYS, "
        "else $TTAPI_API_KEY)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=10,
        help="jobs in progress allowed per key before 499 (default %(default)s)",
    )
    parser.add_argument(
        "--fast",
        type=non_negative,
        default=60.0,
        metavar="SECONDS",
        help="duration of a fast imagine; turbo is 0.5x, relax 3x, and TTAPI's "
        "timeouts scale by SECONDS/60 (default %(default)s)",
    )
    parser.add_argument(
        "--jitter",
        type=non_negative,
        default=0.0,
        help="relative random spread of job durations, e.g. 0.2 for +/-20%%",
    )
    parser.add_argument(
        "--rate",
        type=non_negative,
        default=200.0,
        help="requests per second per key before 429 (default %(default)s)",
    )
    parser.add_argument(
        "--burst", type=int, default=400, help="token-bucket size per key (default %(default)s)"
    )
    parser.add_argument(
        "--retry-after", action="store_true", help="send a Retry-After header with 429 answers"
    )
    parser.add_argument("--balance", type=float, default=1e9, help="starting quota per key")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed for faults and jitter")
    add_runtime_arguments(parser)


def build_config(args: argparse.Namespace) -> SimConfig:
    """Turn parsed options into a SimConfig (ValueError when no key is given)."""
    keys = [k.strip() for k in str(args.keys).split(",") if k.strip()]
    if not keys:
        raise ValueError("--keys: give at least one API key (or set TTAPI_API_KEYS)")
    faults = faults_from(args)
    return SimConfig(
        keys=keys,
        host=args.host,
        port=args.port,
        capacity=args.capacity,
        fast_s=args.fast,
        jitter=args.jitter,
        rate_per_s=args.rate,
        burst=args.burst,
        retry_after_header=args.retry_after,
        balance=args.balance,
        seed=args.seed,
        faults=faults,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM, then stop cleanly; 0 on a clean stop, 2 on bad options."""
    try:
        config = build_config(args)
    except ValueError as exc:
        print(f"mjw simulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = (
        {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        if in_main
        else {}
    )
    try:
        with Simulator(config) as sim:
            labels = ", ".join(account_label(key) for key in config.keys)
            print(f"TTAPI simulator listening on {sim.url} (accounts: {labels})", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
