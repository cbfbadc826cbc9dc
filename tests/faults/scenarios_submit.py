"""Rows of the third trust pass on a submit's way to TTAPI: a POST that outlives the submit
limit, TTAPI's clock 30 s behind ours, a TLS proxy that aborts after forwarding the request."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import JOBS, KEY_A, all_done, scenario
from tests.faults.row import Row
from worker.devtools.simulator.config import SUBMIT_PATHS

SEED = 4  # the simulator's seed: with it, about a third of the first 40 rolls hit at 0.3
# Short HTTP timeouts: a submit's limit (connect + read) of 3 s; held answers wait 9 s.
QUICK_HTTP = {"MJ_HTTP_CONNECT_TIMEOUT_S": "1", "MJ_HTTP_READ_TIMEOUT_S": "2"}
SUBMIT_LIMIT_S = 3.0


@scenario(30, "post-held", "a third of the submits answered 3 x the submit limit late")
def post_held(workdir: Path) -> Row:
    """Every POST is over by its total deadline, the held ones taken for lost and found in
    TTAPI's history: all done, none paid twice."""
    started = time.monotonic()
    plan = Plan(keys=[KEY_A], fast_s=1.5, env=QUICK_HTTP, sim={"seed": SEED})
    with Harness(plan, workdir) as h:
        h.sim().set_faults(
            rate_hold_submit=0.3, hold_submit_s=3 * SUBMIT_LIMIT_S, fault_paths=list(SUBMIT_PATHS)
        )
        sent = h.send(JOBS, "held")
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        held, doubles = h.total("count_held"), h.doubles([s.prompt for s in sent])
        cut = h.log_text().count("no answer in time")
        return h.row(
            "post-held",
            outcomes,
            started,
            slots=slots,
            extra=f"answers held={held}, cut at the deadline={cut}",
            checks={
                "answers held": held > 0,
                "every held POST cut at its deadline": cut >= held,
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
            },
        )


@scenario(31, "ttapi-clock-behind", "TTAPI's clock 30 s behind, 504 after create on 30 %")
def ttapi_clock_behind(workdir: Path) -> Row:
    """TTAPI dates its history 30 s before our sends: every lost answer is still found there
    (the offset learned from the answers' Date), none paid twice."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=1.5, sim={"seed": SEED}), workdir) as h:
        h.sim().set_faults(
            clock_offset_s=-30.0, rate_504_after_create=0.3, fault_paths=list(SUBMIT_PATHS)
        )
        sent = h.send(JOBS, "skewed")
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        n504, doubles = h.total("count_504"), h.doubles([s.prompt for s in sent])
        return h.row(
            "ttapi-clock-behind",
            outcomes,
            started,
            slots=slots,
            extra=f"clock -30 s, 504s={n504}",
            checks={
                "504s injected": n504 > 0,
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
            },
        )


@scenario(32, "tls-proxy-abort", "a TLS proxy aborts 30 % of submits after forwarding them")
def tls_proxy_abort(workdir: Path) -> Row:
    """TTAPI created the job, the client saw a TLS error: that is a lost answer (reconciled),
    never a submit that was not sent (retried, paid twice)."""
    started = time.monotonic()
    proxy = {"abort_rate": 0.3, "abort_paths": [f"/{p}" for p in SUBMIT_PATHS], "seed": SEED}
    with Harness(Plan(keys=[KEY_A], fast_s=1.5, tls_proxy=proxy), workdir) as h:
        assert h.proxy is not None
        sent = h.send(JOBS, "proxied")
        outcomes = h.wait(sent, 60)
        slots = h.settle_slots(10)
        aborted, doubles = h.proxy.aborted, h.doubles([s.prompt for s in sent])
        return h.row(
            "tls-proxy-abort",
            outcomes,
            started,
            slots=slots,
            extra=f"TLS aborts after the request={aborted}",
            checks={
                "aborts injected": aborted > 0,
                "all done": all_done(outcomes),
                "0 double submits": doubles == 0,
            },
        )
