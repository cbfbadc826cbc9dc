"""`mjw simulator`: run the local TTAPI simulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from config.settings import account_label
from worker.devtools.simulator.config import Faults, SimConfig
from worker.devtools.simulator.simulator import Simulator


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


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
        type=_non_negative,
        default=60.0,
        metavar="SECONDS",
        help="duration of a fast imagine; turbo is 0.5x, relax 3x, and TTAPI's "
        "timeouts scale by SECONDS/60 (default %(default)s)",
    )
    parser.add_argument(
        "--jitter",
        type=_non_negative,
        default=0.0,
        help="relative random spread of job durations, e.g. 0.2 for +/-20%%",
    )
    parser.add_argument(
        "--rate",
        type=_non_negative,
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
    net = parser.add_argument_group(
        "network latency",
        "a round trip per API request; set at run time with POST /_sim/faults "
        '{"latency_submit_s": S, "latency_fetch_s": S, "latency_jitter": F}',
    )
    net.add_argument(
        "--latency-submit",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="round trip of a submit; the job is created at its midpoint (default 0)",
    )
    net.add_argument(
        "--latency-fetch",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="round trip of fetch, fetch-list and info; a fetch reads the job's state at its "
        "midpoint (default 0)",
    )
    net.add_argument(
        "--latency-jitter",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="each round trip is drawn uniformly within +/-F of its base, e.g. 0.2 for "
        "+/-20%% (default 0)",
    )
    faults = parser.add_argument_group("fault injection (probabilities per request)")
    faults.add_argument(
        "--fault-429", type=_probability, default=0.0, metavar="P", help="answer 429 at random"
    )
    faults.add_argument(
        "--fault-500", type=_probability, default=0.0, metavar="P", help="answer 500 at random"
    )
    faults.add_argument(
        "--fault-504",
        type=_probability,
        default=0.0,
        metavar="P",
        help="on a submit, create the job and then answer 504",
    )
    faults.add_argument(
        "--fault-reset",
        type=_probability,
        default=0.0,
        metavar="P",
        help="on a submit, create the job and then reset the connection",
    )
    faults.add_argument(
        "--fault-html-502",
        type=_probability,
        default=0.0,
        metavar="P",
        help="answer an HTML 502 page at random",
    )
    faults.add_argument(
        "--fault-truncated",
        type=_probability,
        default=0.0,
        metavar="P",
        help="answer 200 with truncated JSON at random",
    )
    faults.add_argument(
        "--drop-callbacks",
        type=_probability,
        default=0.0,
        metavar="P",
        help="silently skip hookUrl callback attempts",
    )
    faults.add_argument(
        "--slow",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="delay every API answer by S seconds",
    )


def build_config(args: argparse.Namespace) -> SimConfig:
    """Turn parsed options into a SimConfig (ValueError when no key is given)."""
    keys = [k.strip() for k in str(args.keys).split(",") if k.strip()]
    if not keys:
        raise ValueError("--keys: give at least one API key (or set TTAPI_API_KEYS)")
    faults = Faults(
        rate_429=args.fault_429,
        rate_500=args.fault_500,
        rate_html_502=args.fault_html_502,
        rate_truncated=args.fault_truncated,
        rate_504_after_create=args.fault_504,
        rate_reset_after_create=args.fault_reset,
        slow_s=args.slow,
        latency_submit_s=args.latency_submit,
        latency_fetch_s=args.latency_fetch,
        latency_jitter=args.latency_jitter,
        drop_callback_rate=args.drop_callbacks,
    )
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
