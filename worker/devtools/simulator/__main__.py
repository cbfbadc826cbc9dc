"""`python -m worker.devtools.simulator`: the same command as `mjw simulator`."""

from __future__ import annotations

import argparse
import sys

from worker.devtools.simulator.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse the simulator's options and run it."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.devtools.simulator",
        description="Run a local TTAPI Midjourney API simulator (faithful envelopes, cap, "
        "rate limit, hooks, fault injection, stats at /_sim/stats).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
