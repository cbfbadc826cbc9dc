"""The benchmark's scenarios (a)–(h), (j), (k), full size and `--quick` size; (f)–(h) with
latency, (j) and (k) with callers of several tenants and priorities (tests/bench/mixed.py).
(i) is the HTTP API's rate (tests/bench/api_posts.py), run apart."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from tests.bench import mixed

#: Run names, in table order.
DOCS = "docs-style"
ONE_NODE = "mj-worker 1 node"
TWO_NODES = "mj-worker 2 nodes"
ALL_RUNS = (DOCS, ONE_NODE, TWO_NODES)


@dataclass(frozen=True)
class Scenario:
    """One workload: `accounts × jobs_per_account` imagines on a simulator with these settings."""

    key: str
    title: str
    accounts: int = 1
    jobs_per_account: int = 100
    cap: int = 10
    fast_s: float = 2.0
    jitter: float = 0.0
    #: Another client holds `held` places of the (first) account for the first `held_s` s.
    held: int = 0
    held_s: float = 0.0
    runs: tuple[str, ...] = ALL_RUNS
    #: Extra environment for the mj-worker nodes (poll bounds for long jobs).
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    #: Network round trips the simulator adds to every submit / every other API request.
    latency_submit_s: float = 0.0
    latency_fetch_s: float = 0.0
    #: Several callers (tests/bench/mixed.py): "priority" or "shares"; "" for one caller.
    callers: str = ""

    @property
    def jobs(self) -> int:
        """All jobs of the scenario."""
        return self.accounts * self.jobs_per_account

    @property
    def docs_poll_s(self) -> float:
        """The docs-style sleep between fetches: 0.5 s for 2 s jobs, scaled to job length."""
        return round(0.25 * self.fast_s, 3)

    @property
    def docs_concurrency(self) -> int:
        """Processes of the docs-style worker: one per place TTAPI offers (accounts × cap)."""
        return self.accounts * self.cap

    @property
    def nominal_limit_s(self) -> float:
        """Limit for exact durations, no other client: ceil(jobs per account / cap) × fast."""
        return math.ceil(self.jobs_per_account / self.cap) * self.fast_s

    @property
    def timeout_s(self) -> float:
        """How long a run may take before it is given up: generous, but bounded."""
        return 120.0 + 6 * self.nominal_limit_s + 8 * self.held_s


#: The round trips of the latency scenarios (f)-(h), as measured against TTAPI (issue 16).
SUBMIT_RTT_S, FETCH_RTT_S = 0.6, 0.25


def poll_env(job_s: float) -> dict[str, str]:
    """mj-worker's poll bounds for jobs of `job_s`: 2.5 % and 25 % of the job time.

    The proportions of the real defaults (1 s and 15 s for one-minute jobs), rounded the way
    issue 16 asks: MJ_POLL_MIN_S = 2.5 % of the job time.
    """
    return {"MJ_POLL_MIN_S": f"{0.025 * job_s:g}", "MJ_POLL_MAX_S": f"{0.25 * job_s:g}"}


def with_latency(key: str, title: str, **shape: Any) -> Scenario:
    """A scenario whose simulator answers submits in 0.6 s and fetches in 0.25 s."""
    fast_s = float(shape.get("fast_s", 2.0))
    return Scenario(
        key,
        title,
        latency_submit_s=SUBMIT_RTT_S,
        latency_fetch_s=FETCH_RTT_S,
        env=poll_env(fast_s),
        **shape,
    )


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("a", "100 jobs, 1 account, exact 2 s"),
        Scenario("b", "100 jobs, 1 account, 2 s ±20 %", jitter=0.2),
        Scenario("c", "1,000-job burst, 4 accounts", accounts=4, jobs_per_account=250),
        Scenario(
            "d",
            "other client holds 7 of 10 slots for 8 s, 40 jobs",
            jobs_per_account=40,
            held=7,
            held_s=8.0,
        ),
        Scenario(
            "e",
            "100 accounts × 10 jobs of 20 s, one node",
            accounts=100,
            jobs_per_account=10,
            fast_s=20.0,
            runs=(ONE_NODE,),
            env={"MJ_POLL_MIN_S": "0.5", "MJ_POLL_MAX_S": "5"},
            note="docs-style not run: it would need one worker process per place (accounts × cap)",
        ),
        with_latency(
            "f",
            "60 jobs of 10 s ±20 %, 1 account, submit 0.6 s / fetch 0.25 s",
            jobs_per_account=60,
            fast_s=10.0,
            jitter=0.2,
        ),
        with_latency(
            "g",
            "400 jobs of 10 s ±20 % at once, 4 accounts, submit 0.6 s / fetch 0.25 s",
            accounts=4,
            jobs_per_account=100,
            fast_s=10.0,
            jitter=0.2,
        ),
        with_latency(
            "h",
            "1,000 jobs of 4 s at once, 4 accounts, submit 0.6 s / fetch 0.25 s",
            accounts=4,
            jobs_per_account=250,
            fast_s=4.0,
        ),
        Scenario(
            "j",
            "200 low jobs of one tenant fill the line, then 10 high arrive, 2 s ±20 %",
            jobs_per_account=200 + mixed.HIGH,
            jitter=0.2,
            callers=mixed.PRIORITY,
            runs=(DOCS, ONE_NODE),
            env=dict(mixed.ENV),
        ),
        Scenario(
            "k",
            "two tenants at weights 3:1 send 150 jobs each at once, 2 s ±20 %",
            jobs_per_account=300,
            jitter=0.2,
            callers=mixed.SHARES,
            runs=(DOCS, ONE_NODE),
            env=dict(mixed.ENV),
        ),
    )
}


def quick(s: Scenario) -> Scenario:
    """A smaller version of `s` for a smoke test (same shape, fewer jobs or accounts)."""
    if s.key in ("a", "b"):
        return replace(s, jobs_per_account=30, title=s.title.replace("100", "30"))
    if s.key == "c":
        return replace(s, jobs_per_account=50, title="200-job burst, 4 accounts")
    if s.key == "d":
        return replace(s, jobs_per_account=20, title=s.title.replace("40 jobs", "20 jobs"))
    if s.key == "f":
        return replace(s, jobs_per_account=30, title=s.title.replace("60 jobs", "30 jobs"))
    if s.key == "g":
        return replace(s, jobs_per_account=30, title=s.title.replace("400 jobs", "120 jobs"))
    if s.key == "h":
        return replace(s, jobs_per_account=50, title=s.title.replace("1,000 jobs", "200 jobs"))
    if s.key == "j":
        return replace(s, jobs_per_account=100 + mixed.HIGH, title=s.title.replace("200", "100"))
    if s.key == "k":
        return replace(s, jobs_per_account=120, title=s.title.replace("150", "60"))
    return replace(s, accounts=10, fast_s=5.0, title="10 accounts × 10 jobs of 5 s, one node")


def with_round_trips(s: Scenario, submit_s: float, fetch_s: float) -> Scenario:
    """`s` with the simulator's round trips set (`--latency`): any scenario can run with them."""
    if (s.latency_submit_s, s.latency_fetch_s) == (submit_s, fetch_s):
        return s
    title = f"{s.title} (submit {submit_s:g} s / fetch {fetch_s:g} s)"
    return replace(s, latency_submit_s=submit_s, latency_fetch_s=fetch_s, title=title)


def select(keys: list[str] | None, *, is_quick: bool = False) -> list[Scenario]:
    """The scenarios named by `keys` (all when None), in a–k order; ValueError on an unknown key."""
    wanted = keys or list(SCENARIOS)
    bad = [k for k in wanted if k not in SCENARIOS]
    if bad:
        raise ValueError(f"unknown scenario(s) {bad}; known: {', '.join(SCENARIOS)}")
    chosen = [SCENARIOS[k] for k in SCENARIOS if k in wanted]
    return [quick(s) for s in chosen] if is_quick else chosen
