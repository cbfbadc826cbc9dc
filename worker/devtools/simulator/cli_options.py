"""The simulator's run-time knobs as command-line options: latency, spellings, faults.

Each option sets a `Faults` field, which `POST /_sim/faults` (or `Simulator.set_faults`) can
change while the simulator runs.
"""

from __future__ import annotations

import argparse

from worker.devtools.simulator.config import SUBMIT_ID_KEYS, VIDEO_LIST_KEYS, Faults


def probability(text: str) -> float:
    """A probability 0..1 (argparse type)."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def fraction(text: str) -> float:
    """A fraction 0..1 (argparse type)."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def non_negative(text: str) -> float:
    """A number >= 0 (argparse type)."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the latency, spelling and fault options on `parser`."""
    net = parser.add_argument_group(
        "network latency",
        "a round trip per API request; set at run time with POST /_sim/faults "
        '{"latency_submit_s": S, "latency_fetch_s": S, "latency_jitter": F}',
    )
    net.add_argument(
        "--latency-submit",
        type=non_negative,
        default=0.0,
        metavar="S",
        help="round trip of a submit; the job is created at its midpoint (default 0)",
    )
    net.add_argument(
        "--latency-fetch",
        type=non_negative,
        default=0.0,
        metavar="S",
        help="round trip of every other request (fetch, image-edits fetch, fetch-list, info); "
        "a fetch reads the job's state at its midpoint (default 0)",
    )
    net.add_argument(
        "--latency-jitter",
        type=fraction,
        default=0.0,
        metavar="F",
        help="each round trip is drawn uniformly within +/-F of its base, e.g. 0.2 for "
        "+/-20%% (default 0)",
    )
    answers = parser.add_argument_group(
        "answer spellings",
        "how answers spell what a tolerant client must read; set at run time with POST "
        '/_sim/faults {"submit_id_key": K, "video_list_key": K}',
    )
    answers.add_argument(
        "--submit-id",
        choices=SUBMIT_ID_KEYS,
        default="auto",
        help="the id in a submit's answer: auto (as TTAPI's pages: job_id for action, video, "
        "extend and image-edits, jobId for the rest), or one spelling everywhere (default auto)",
    )
    answers.add_argument(
        "--video-list",
        choices=VIDEO_LIST_KEYS,
        default="videos",
        help="the name of a video job's clip URLs in its fetch answer; videoUrl is a string "
        "for a single clip (default videos)",
    )
    faults = parser.add_argument_group("fault injection (probabilities per request)")
    faults.add_argument(
        "--fault-429", type=probability, default=0.0, metavar="P", help="answer 429 at random"
    )
    faults.add_argument(
        "--fault-500", type=probability, default=0.0, metavar="P", help="answer 500 at random"
    )
    faults.add_argument(
        "--fault-504",
        type=probability,
        default=0.0,
        metavar="P",
        help="on a submit, create the job and then answer 504",
    )
    faults.add_argument(
        "--fault-reset",
        type=probability,
        default=0.0,
        metavar="P",
        help="on a submit, create the job and then reset the connection",
    )
    faults.add_argument(
        "--fault-html-502",
        type=probability,
        default=0.0,
        metavar="P",
        help="answer an HTML 502 page at random",
    )
    faults.add_argument(
        "--fault-truncated",
        type=probability,
        default=0.0,
        metavar="P",
        help="answer 200 with truncated JSON at random",
    )
    faults.add_argument(
        "--drop-callbacks",
        type=probability,
        default=0.0,
        metavar="P",
        help="silently skip hookUrl callback attempts",
    )
    faults.add_argument(
        "--slow",
        type=non_negative,
        default=0.0,
        metavar="S",
        help="delay every API answer by S seconds",
    )


def faults_from(args: argparse.Namespace) -> Faults:
    """The Faults the parsed options ask for."""
    return Faults(
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
        submit_id_key=args.submit_id,
        video_list_key=args.video_list,
    )
