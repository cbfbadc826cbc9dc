"""Network round trips: how long an API request takes, and where in it TTAPI acts.

A request's round trip is split in two halves: the request travels for the first half, TTAPI
acts at the midpoint (a submit creates its job, a fetch reads the job's state, a 499 or 429 is
decided), and the answer travels for the second half. Only the API endpoints pay it; the
`/_sim/` control endpoints and the image and video downloads answer at once.
"""

from __future__ import annotations

import random

from worker.devtools.simulator.config import SUBMIT_PATHS, Faults


def base_round_trip(faults: Faults, endpoint: str) -> float:
    """The configured round trip of `endpoint`: a submit's, or for any other the fetch one."""
    return faults.latency_submit_s if endpoint in SUBMIT_PATHS else faults.latency_fetch_s


def round_trip(faults: Faults, endpoint: str, rng: random.Random) -> float:
    """One request's round trip in seconds, jittered uniformly by +/- `latency_jitter`."""
    base = base_round_trip(faults, endpoint)
    if base <= 0:
        return 0.0
    jitter = faults.latency_jitter
    return base * (1.0 + rng.uniform(-jitter, jitter)) if jitter > 0 else base
